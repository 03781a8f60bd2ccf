package session

import (
	"strconv"
	"testing"
	"time"
)

// The throttle's memory stays bounded however many addresses fail; a wait
// lasts until the window that began with the first failure ends.
func TestThrottleBounded(t *testing.T) {
	th := newThrottle(2, time.Hour)
	now := time.Now()
	for i := range 3 * maxAddrs {
		th.failed("10.0."+strconv.Itoa(i), now.Add(time.Duration(i)*time.Millisecond))
		if len(th.fails) > maxAddrs {
			t.Fatalf("%d addresses kept, at most %d", len(th.fails), maxAddrs)
		}
	}
	if th.wait("10.0.1", now) != 0 {
		t.Error("one failure blocks")
	}
	th2 := newThrottle(2, time.Hour)
	th2.failed("a", now)
	th2.failed("a", now)
	if w := th2.wait("a", now.Add(time.Minute)); w != 59*time.Minute {
		t.Errorf("wait %v, want 59m", w)
	}
	if w := th2.wait("a", now.Add(time.Hour)); w != 0 {
		t.Errorf("after the window: wait %v", w)
	}
}

// The bound holds whatever the timing: failures of many addresses at one
// instant (no window older than another, so forgetting by age frees
// nothing) still never keep more than maxAddrs addresses, and the newest
// address is the one kept.
func TestThrottleBoundedAtOneInstant(t *testing.T) {
	th := newThrottle(2, time.Hour)
	now := time.Now()
	for i := range maxAddrs + 5 {
		th.failed("10.1."+strconv.Itoa(i), now)
		if len(th.fails) > maxAddrs {
			t.Fatalf("after %d addresses failed at one instant, %d are kept; at most %d", i+1, len(th.fails), maxAddrs)
		}
	}
	last := "10.1." + strconv.Itoa(maxAddrs+4)
	if th.fails[last] == nil {
		t.Errorf("the newest failing address %s was forgotten", last)
	}
}
