package auth

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func (s *Service) hash(ctx context.Context, password string) ([]byte, error) {
	var hash []byte
	err := s.withHashSlot(ctx, func() (err error) {
		hash, err = bcrypt.GenerateFromPassword([]byte(password), s.policy.BcryptCost)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}

// compare returns ErrInvalidCredentials on a mismatch. bcrypt's comparison
// is constant-time in the password.
func (s *Service) compare(ctx context.Context, hash []byte, password string) error {
	return s.withHashSlot(ctx, func() error {
		if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil {
			return ErrInvalidCredentials
		}
		return nil
	})
}

func (s *Service) withHashSlot(ctx context.Context, fn func() error) error {
	wait := time.NewTimer(s.policy.HashWait)
	defer wait.Stop()
	select {
	case s.hashSlots <- struct{}{}:
		defer func() { <-s.hashSlots }()
		return fn()
	case <-wait.C:
		return RateLimited(time.Second)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Service) check(budget string, l Limiter, key string) error {
	if l == nil {
		return nil
	}
	if retry, ok := l.Check(key); !ok {
		s.obs.RateLimited(budget)
		return RateLimited(retry)
	}
	return nil
}

func (s *Service) spend(budget string, l Limiter, key string) error {
	if l == nil {
		return nil
	}
	if retry, ok := l.Spend(key); !ok {
		s.obs.RateLimited(budget)
		return RateLimited(retry)
	}
	return nil
}

// ipBudgetKey is the key of a client's per-IP budget. An IPv6 client
// usually holds a whole /64 and could otherwise rotate through fresh
// budgets, so IPv6 addresses share one budget per /64.
func ipBudgetKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil || !addr.Is6() || addr.Is4In6() {
		return ip
	}
	p, _ := addr.Prefix(64)
	return p.String()
}

// charge spends after the fact: the attempt already happened, so the budget
// only affects the next one.
func charge(l Limiter, key string) {
	if l != nil {
		l.Spend(key)
	}
}
