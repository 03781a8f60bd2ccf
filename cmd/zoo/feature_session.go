package main

import (
	"sync"

	"github.com/zoo-bioimage/zoo/session"
	"github.com/zoo-bioimage/zoo/web"
)

// Cookie login sessions for the web pages (package session): the web
// middleware's Session, POST /login and POST /logout, and a purge of ended
// sessions at startup. Sessions live in the catalog's database, so every
// replica shares them.
func init() {
	register(feature{
		name: "session",
		session: func(env *serverEnv) web.Session {
			if m := sessionManager(env); m != nil {
				return m
			}
			return nil // not a typed nil: no sessions
		},
		routes: func(env *serverEnv) ([]web.Route, error) {
			if m := sessionManager(env); m != nil {
				return m.Routes(), nil
			}
			return nil, nil
		},
		start: func(env *serverEnv) error {
			m := sessionManager(env)
			if m == nil || !env.serve {
				return nil
			}
			n, err := m.Purge(env.ctx)
			if err == nil && n > 0 {
				env.log.Info("purged ended login sessions", "count", n)
			}
			return err
		},
	})
}

// sessionManagers holds one Manager per running server, so that every
// hook (and other features asking for the CSRF token) shares it.
var sessionManagers sync.Map // *serverEnv → *session.Manager

// sessionManager returns env's session manager, or nil when the catalog
// cannot store sessions.
func sessionManager(env *serverEnv) *session.Manager {
	if m, ok := sessionManagers.Load(env); ok {
		return m.(*session.Manager)
	}
	store, ok := any(env.st.cat).(session.Store)
	if !ok {
		return nil
	}
	m, _ := sessionManagers.LoadOrStore(env, session.New(store, session.Options{Logger: env.log}))
	return m.(*session.Manager)
}
