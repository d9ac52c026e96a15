package auth

// HoldHashSlots occupies every bcrypt slot until release is called, so a
// test can see whether an operation waits for one.
func HoldHashSlots(s *Service) (release func()) {
	for range cap(s.hashSlots) {
		s.hashSlots <- struct{}{}
	}
	return func() {
		for range cap(s.hashSlots) {
			<-s.hashSlots
		}
	}
}

// DummyHash is the hash compared against for unknown accounts.
func DummyHash(s *Service) []byte { return s.dummyHash }
