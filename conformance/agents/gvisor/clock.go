// A virtual clock for gVisor's netstack that, unlike faketime.ManualClock,
// can say when its next timer is due: the agent must stop time at the
// first instant the stack sends a frame, so it advances from one due time
// to the next and looks for output after each.

package main

import (
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
)

type vclock struct {
	mu     sync.Mutex
	now    time.Duration
	timers map[*vtimer]struct{}
	// Timers due at once run in their own goroutine, as real timers do;
	// quiescence waits for them.
	running sync.WaitGroup
}

type vtimer struct {
	c      *vclock
	f      func()
	at     time.Duration
	active bool
}

var epoch = time.Unix(0, 0)

func newClock() *vclock {
	return &vclock{timers: map[*vtimer]struct{}{}}
}

func (c *vclock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return epoch.Add(c.now)
}

func (c *vclock) NowMonotonic() tcpip.MonotonicTime {
	c.mu.Lock()
	defer c.mu.Unlock()
	var m tcpip.MonotonicTime
	return m.Add(c.now)
}

func (c *vclock) AfterFunc(d time.Duration, f func()) tcpip.Timer {
	t := &vtimer{c: c, f: f}
	t.Reset(d)
	return t
}

func (t *vtimer) Reset(d time.Duration) {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.timers, t)
	if d <= 0 {
		t.active = false
		c.running.Add(1)
		go func() {
			defer c.running.Done()
			t.f()
		}()
		return
	}
	t.at = c.now + d
	t.active = true
	c.timers[t] = struct{}{}
}

func (t *vtimer) Stop() bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	was := t.active
	t.active = false
	delete(c.timers, t)
	return was
}

// next is the earliest due time of a pending timer.
func (c *vclock) next() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var min time.Duration
	found := false
	for t := range c.timers {
		if !found || t.at < min {
			min, found = t.at, true
		}
	}
	return min, found
}

// fireDue moves the clock to `at` and runs every timer due by then, in time
// order, each batch with the clock at its due time.
func (c *vclock) fireDue(at time.Duration) {
	for {
		c.running.Wait()
		c.mu.Lock()
		var batch []*vtimer
		due := at
		for t := range c.timers {
			if t.at <= at && (len(batch) == 0 || t.at < due) {
				due = t.at
			}
		}
		for t := range c.timers {
			if t.at <= at && t.at == due {
				batch = append(batch, t)
			}
		}
		if len(batch) == 0 {
			if at > c.now {
				c.now = at
			}
			c.mu.Unlock()
			return
		}
		c.now = due
		for _, t := range batch {
			t.active = false
			delete(c.timers, t)
		}
		c.mu.Unlock()
		for _, t := range batch {
			t.f()
		}
	}
}
