package signing

import (
	"slices"
	"time"

	"github.com/tokengate/tokengate/auth"
)

// State is where a key is in the schedule.
type State int

// The four states of API.md section 8.
const (
	// Next keys are published but do not sign yet.
	Next State = iota + 1
	// Current is the one key that signs.
	Current
	// Previous is the key that signed before the current one; it is still
	// published, so its tokens verify until they have expired.
	Previous
	// Retired keys are gone from the set; their tokens fail.
	Retired
	// Scheduled is a further key waiting behind the next one (only after
	// an unusual sequence of operator commands); it is not published yet.
	Scheduled
)

// String returns the state's name as `tokengate keys` shows it.
func (s State) String() string {
	switch s {
	case Next:
		return "next"
	case Current:
		return "current"
	case Previous:
		return "previous"
	case Retired:
		return "retired"
	case Scheduled:
		return "scheduled"
	}
	return "unknown"
}

// Published reports whether keys in this state are in the JWKS and verify.
func (s State) Published() bool { return s == Next || s == Current || s == Previous }

// Status is one key with its state at a moment, and when it leaves it (the
// zero time when that waits on something else).
type Status struct {
	Key   auth.SigningKey
	State State
	// Until is when the key moves on: a next key's activation, a previous
	// key's end of retention.
	Until time.Time
}

// Schedule is the timing of the key schedule.
type Schedule struct {
	// Rotation is how long a key signs (SIGNING_KEY_ROTATION).
	Rotation time.Duration
	// Overlap is the least time a key is published before it signs
	// (SIGNING_KEY_OVERLAP).
	Overlap time.Duration
	// KeepPrevious is how long a key stays published after it stopped
	// signing: the access-token lifetime + the clock leeway + the JWKS
	// max-age, so no token it signed and no cached set outlives it.
	KeepPrevious time.Duration
}

// States returns the state of every key at now, in the order of keys'
// activation, newest first. It follows from the stored times alone:
//   - a key with RetiredAt at or before now is retired;
//   - of the others, the one that activated last is current, the one
//     before it previous until KeepPrevious after the key that followed
//     it activated, and any older one retired;
//   - the earliest not yet activated is next, any later one scheduled.
func (sc Schedule) States(keys []auth.SigningKey, now time.Time) []Status {
	sorted := slices.Clone(keys)
	slices.SortStableFunc(sorted, func(a, b auth.SigningKey) int { return b.ActivatesAt.Compare(a.ActivatesAt) })
	out := make([]Status, len(sorted))
	var (
		haveCurrent bool
		// successor is when the key after this one (retired or not)
		// started to sign, which is when this one stopped.
		successor time.Time
	)
	nextAt := -1
	for i, k := range sorted {
		out[i].Key = k
		activated := !now.Before(k.ActivatesAt)
		switch {
		case !k.RetiredAt.IsZero() && !now.Before(k.RetiredAt):
			out[i].State = Retired
		case !activated:
			// Newest first: the last one seen is the earliest.
			out[i].State, out[i].Until = Scheduled, k.ActivatesAt
			nextAt = i
		case !haveCurrent:
			out[i].State = Current
			haveCurrent = true
		default:
			out[i].State = Retired
			if end := successor.Add(sc.KeepPrevious); now.Before(end) && !hasState(out[:i], Previous) {
				out[i].State, out[i].Until = Previous, end
			}
		}
		if activated {
			successor = k.ActivatesAt
		}
	}
	if nextAt >= 0 {
		out[nextAt].State = Next
	}
	return out
}

func hasState(list []Status, s State) bool {
	return slices.ContainsFunc(list, func(st Status) bool { return st.State == s })
}

// find returns the key in state s, if any.
func find(list []Status, s State) (auth.SigningKey, bool) {
	for _, st := range list {
		if st.State == s {
			return st.Key, true
		}
	}
	return auth.SigningKey{}, false
}

// Boundary is the next moment at which States changes by itself: a next
// key's activation or a previous key's end, the zero time if none.
func Boundary(list []Status) time.Time {
	var b time.Time
	for _, st := range list {
		if (st.State == Next || st.State == Previous) && (b.IsZero() || st.Until.Before(b)) {
			b = st.Until
		}
	}
	return b
}

// apply returns keys with changes made, as the store would write them.
func apply(keys []auth.SigningKey, c auth.KeyChanges) []auth.SigningKey {
	out := slices.Clone(keys)
	for i := range out {
		if t, ok := c.Activate[out[i].ID]; ok {
			out[i].ActivatesAt = t
		}
		if t, ok := c.Retire[out[i].ID]; ok {
			out[i].RetiredAt = t
		}
	}
	return append(out, c.Insert...)
}

// merge adds b's changes to a's.
func merge(a, b auth.KeyChanges) auth.KeyChanges {
	a.Insert = append(a.Insert, b.Insert...)
	for id, t := range b.Activate {
		if a.Activate == nil {
			a.Activate = map[string]time.Time{}
		}
		a.Activate[id] = t
	}
	for id, t := range b.Retire {
		if a.Retire == nil {
			a.Retire = map[string]time.Time{}
		}
		a.Retire[id] = t
	}
	return a
}
