package config

// Names returns the name of every environment variable tokengate reads, in
// the order -h lists them; deployment files are checked against it so that a
// misspelt or retired variable cannot be silently ignored.
func Names() []string {
	names := make([]string, len(variables))
	for i, v := range variables {
		names[i] = v.name
	}
	return names
}
