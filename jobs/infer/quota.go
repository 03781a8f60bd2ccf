package infer

import (
	"context"
	"strconv"
	"sync"

	"github.com/zoo-bioimage/zoo"
)

// quotas count the active jobs each submitter has through this process,
// so that no one client can fill the queue (Options.MaxPerClient,
// MaxPerUser, MaxAnonymous). A submitter is a signed-in user ("user:ID")
// or, for anonymous submissions, the client's address ("addr:KEY", see
// web.ClientKey). The counts are this process's: with several serve
// replicas, each admits up to the quotas (MaxActive stays global).
type quotas struct {
	mu     sync.Mutex
	owners map[string][]string // job ids ("" = a submission being admitted)
}

// owner is the quota key of a submission.
func owner(u *zoo.User, client string) (key string, anonymous bool) {
	if u != nil {
		return "user:" + strconv.FormatInt(u.ID, 10), false
	}
	return "addr:" + client, true
}

// prune forgets the jobs of key that are no longer queued or running.
func (s *Service) prune(ctx context.Context, key string) {
	q := &s.quotas
	q.mu.Lock()
	ids := append([]string(nil), q.owners[key]...)
	q.mu.Unlock()
	done := map[string]bool{}
	for _, id := range ids {
		if id == "" {
			continue
		}
		j, err := s.o.Store.Job(ctx, id)
		if zoo.KindOf(err) == zoo.NotFound || (err == nil && j.State.Terminal()) {
			done[id] = true
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	kept := q.owners[key][:0]
	for _, id := range q.owners[key] {
		if !done[id] {
			kept = append(kept, id)
		}
	}
	if len(kept) == 0 {
		delete(q.owners, key)
	} else {
		q.owners[key] = kept
	}
}

// anonymousActive counts the active anonymous jobs of every address.
func (q *quotas) anonymousActive() (n int, keys []string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for k, ids := range q.owners {
		if k[:5] == "addr:" {
			n += len(ids)
			keys = append(keys, k)
		}
	}
	return n, keys
}

// admit reserves a place for one more job of key, or refuses with a
// *BusyError naming the quota. The returned function records the job's id
// ("" when the submission failed, which frees the place).
func (s *Service) admit(ctx context.Context, key string, anonymous bool) (func(id string), error) {
	q := &s.quotas
	limit, scope := s.o.MaxPerUser, ScopeUser
	if anonymous {
		limit, scope = s.o.MaxPerClient, ScopeClient
	}
	s.prune(ctx, key)
	if anonymous {
		if n, keys := q.anonymousActive(); n >= s.o.MaxAnonymous {
			for _, k := range keys {
				s.prune(ctx, k)
			}
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if n := len(q.owners[key]); n >= limit {
		return nil, &BusyError{Active: n, Limit: limit, RetryAfter: s.o.RetryAfter, Scope: scope}
	}
	if anonymous {
		n := 0
		for k, ids := range q.owners {
			if k[:5] == "addr:" {
				n += len(ids)
			}
		}
		if n >= s.o.MaxAnonymous {
			return nil, &BusyError{Active: n, Limit: s.o.MaxAnonymous, RetryAfter: s.o.RetryAfter, Scope: ScopeAnonymous}
		}
	}
	if q.owners == nil {
		q.owners = map[string][]string{}
	}
	q.owners[key] = append(q.owners[key], "")
	var once sync.Once
	return func(id string) {
		once.Do(func() {
			q.mu.Lock()
			defer q.mu.Unlock()
			ids := q.owners[key]
			for i, x := range ids {
				if x == "" {
					if id == "" {
						ids = append(ids[:i], ids[i+1:]...)
					} else {
						ids[i] = id
					}
					break
				}
			}
			if len(ids) == 0 {
				delete(q.owners, key)
			} else {
				q.owners[key] = ids
			}
		})
	}, nil
}

// ActiveByKind counts the active jobs admitted by this process (as far as
// it knows: finished jobs are forgotten when their submitter submits
// again), by kind of submitter, for metrics.
func (s *Service) ActiveByKind() (anonymous, users int) {
	q := &s.quotas
	q.mu.Lock()
	defer q.mu.Unlock()
	for k, ids := range q.owners {
		if k[:5] == "addr:" {
			anonymous += len(ids)
		} else {
			users += len(ids)
		}
	}
	return anonymous, users
}
