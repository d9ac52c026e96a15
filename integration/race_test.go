//go:build race

package integration

// raceEnabled builds the binary under test with the race detector when the
// tests themselves run with it, so a data race in a server process fails
// the test that drove it.
const raceEnabled = true
