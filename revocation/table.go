package revocation

import (
	"sync/atomic"
)

// fingerprint names an id by two 64-bit hashes under independent random
// seeds. The table keeps fingerprints instead of the ids themselves: 16
// bytes instead of a string header and its bytes, and a lookup compares
// two words. Two different ids share a fingerprint with probability 2^-128
// per pair, and the seeds are secret to the process, so no one can aim for
// it; if it ever happened, a token would be refused as revoked and its
// refresh token tried: the safe side.
type fingerprint struct{ a, b uint64 }

// node is one entry of a bucket's list. Nodes are never changed once
// published: the writer replaces them, so readers need no lock.
type node struct {
	fp fingerprint
	// until is when the entry stops mattering, in unix nanoseconds.
	until int64
	// minVersion is, for a user, the lowest token counter still valid.
	minVersion int64
	next       *node
}

// table is an open hash of immutable lists. Readers load the bucket's head
// atomically and walk it; the one writer (the View holds a mutex) builds
// new nodes and publishes them with an atomic store. Growing builds a new
// table and swaps the View's pointer to it.
type table struct {
	buckets []atomic.Pointer[node]
	mask    uint64
	// count is the number of nodes; only the writer touches it (readers
	// never look at it, so it needs no synchronisation).
	count int
}

// minBuckets is the smallest table; a View starts with it.
const minBuckets = 1 << 10

func newTable(n int) *table {
	return &table{buckets: make([]atomic.Pointer[node], n), mask: uint64(n - 1)}
}

// find returns the node of fp, or nil. It is the hot path: no lock, no
// allocation.
func (t *table) find(fp fingerprint) *node {
	for n := t.buckets[fp.a&t.mask].Load(); n != nil; n = n.next {
		if n.fp == fp {
			return n
		}
	}
	return nil
}

// put inserts or replaces the node of fp, merging with an existing one by
// keeping the later until and the higher minVersion. It reports whether a
// node was added. The caller is the only writer.
func (t *table) put(fp fingerprint, until, minVersion int64) bool {
	b := &t.buckets[fp.a&t.mask]
	head := b.Load()
	for n := head; n != nil; n = n.next {
		if n.fp != fp {
			continue
		}
		if n.until >= until && n.minVersion >= minVersion {
			return false
		}
		merged := &node{fp: fp, until: max(n.until, until), minVersion: max(n.minVersion, minVersion), next: n.next}
		b.Store(copyBefore(head, n, merged))
		return false
	}
	b.Store(&node{fp: fp, until: until, minVersion: minVersion, next: head})
	t.count++
	return true
}

// copyBefore returns a list equal to the one at head with target replaced
// by repl (whose next already follows target), copying the nodes before
// target so that readers of the old list still see a whole one.
func copyBefore(head, target, repl *node) *node {
	if head == target {
		return repl
	}
	return &node{fp: head.fp, until: head.until, minVersion: head.minVersion, next: copyBefore(head.next, target, repl)}
}

// prune drops the nodes whose until is at or before now and returns how
// many went. The caller is the only writer.
func (t *table) prune(now int64) int {
	dropped := 0
	for i := range t.buckets {
		b := &t.buckets[i]
		head := b.Load()
		expired := 0
		for n := head; n != nil; n = n.next {
			if n.until <= now {
				expired++
			}
		}
		if expired == 0 {
			continue
		}
		b.Store(without(head, now))
		dropped += expired
	}
	t.count -= dropped
	return dropped
}

// without returns the list at head without its expired nodes, sharing the
// tail after the last expired one.
func without(head *node, now int64) *node {
	if head == nil {
		return nil
	}
	rest := without(head.next, now)
	if head.until <= now {
		return rest
	}
	if rest == head.next {
		return head
	}
	return &node{fp: head.fp, until: head.until, minVersion: head.minVersion, next: rest}
}

// resized returns a table of n buckets holding every node of t, new nodes
// all, since t's readers still walk the old ones.
func (t *table) resized(n int) *table {
	nt := newTable(n)
	for i := range t.buckets {
		for o := t.buckets[i].Load(); o != nil; o = o.next {
			nb := &nt.buckets[o.fp.a&nt.mask]
			nb.Store(&node{fp: o.fp, until: o.until, minVersion: o.minVersion, next: nb.Load()})
			nt.count++
		}
	}
	return nt
}
