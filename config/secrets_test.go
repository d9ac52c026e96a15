package config

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestLoadOrCreateSecrets(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	access, refresh, created, err := LoadOrCreateSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Error("created = false for a new file")
	}
	if len(access) < MinSecretBytes || len(refresh) < MinSecretBytes || access.Equal(refresh) {
		t.Fatalf("secrets of %d and %d bytes, equal %v; want two different of at least %d", len(access), len(refresh), access.Equal(refresh), MinSecretBytes)
	}

	path := filepath.Join(dir, SecretsFileName)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o; want 0600", info.Mode().Perm())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries; want only the secrets file (no temporary left)", len(entries))
	}

	// Kept across restarts.
	a2, r2, created, err := LoadOrCreateSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	if created || !a2.Equal(access) || !r2.Equal(refresh) {
		t.Errorf("second call: created %v, same access %v, same refresh %v; want the kept secrets", created, a2.Equal(access), r2.Equal(refresh))
	}

	// What was written can be set in the environment as it is.
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(content), "ACCESS_TOKEN_SECRET="+string(access)+"\n") {
		t.Error("the file does not hold ACCESS_TOKEN_SECRET=<secret>")
	}
	if _, err := load("ACCESS_TOKEN_SECRET", string(access), "REFRESH_TOKEN_SECRET", string(refresh)); err != nil {
		t.Errorf("generated secrets do not pass Load: %v", err)
	}
}

func TestLoadOrCreateSecretsRefusesOpenPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no permission bits on Windows")
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o620, 0o666} {
		dir := t.TempDir()
		access, _, _, err := LoadOrCreateSecrets(dir)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, SecretsFileName)
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, _, _, err = LoadOrCreateSecrets(dir)
		if err == nil {
			t.Fatalf("mode %04o accepted", mode)
		}
		if !strings.Contains(err.Error(), "chmod 600") || strings.Contains(err.Error(), string(access)) {
			t.Errorf("mode %04o: error %q; want advice and no secret", mode, err)
		}
		// Tightened again, the same file is used.
		if err := os.Chmod(path, 0o400); err != nil {
			t.Fatal(err)
		}
		if a, _, created, err := LoadOrCreateSecrets(dir); err != nil || created || !a.Equal(access) {
			t.Errorf("mode 0400: created %v, err %v; want the kept secrets", created, err)
		}
	}
}

func TestLoadOrCreateSecretsRefusesBadFiles(t *testing.T) {
	long1, long2 := strings.Repeat("a", 40), strings.Repeat("b", 40)
	tests := []struct {
		name, content, wantErr string
	}{
		{"garbage", "not a secrets file " + long1 + "\n", "line 1: want ACCESS_TOKEN_SECRET="},
		{"unknown name", "OTHER=" + long1 + "\n", "line 1"},
		{"short", "# c\nACCESS_TOKEN_SECRET=short\nREFRESH_TOKEN_SECRET=" + long2 + "\n", "line 2: ACCESS_TOKEN_SECRET must be at least 32 bytes"},
		{"missing one", "ACCESS_TOKEN_SECRET=" + long1 + "\n", "must set both"},
		{"empty", "", "must set both"},
		{"equal", "ACCESS_TOKEN_SECRET=" + long1 + "\nREFRESH_TOKEN_SECRET=" + long1 + "\n", "must be different"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, SecretsFileName), []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, _, _, err := LoadOrCreateSecrets(dir)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v; want one mentioning %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), long1) || strings.Contains(err.Error(), long2) {
				t.Errorf("error leaks a value: %q", err)
			}
		})
	}

	t.Run("directory", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, SecretsFileName), 0o700); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := LoadOrCreateSecrets(dir); err == nil {
			t.Fatal("a directory was accepted as the secrets file")
		}
	})
}

func TestPublishNeverReplacesAnotherProcessFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, SecretsFileName)
	if err := os.WriteFile(path, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	won, err := publish(path, []byte("second"))
	if err != nil || won {
		t.Fatalf("publish over an existing file = %v, %v; want false, nil", won, err)
	}
	if b, _ := os.ReadFile(path); string(b) != "first" {
		t.Errorf("file holds %q; want the first writer's", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d entries; want the temporary file removed", len(entries))
	}
}

func TestResolveSecrets(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "db", "tokengate.db")
	c, err := load("DATABASE_URL", "sqlite:"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	file, created, err := c.ResolveSecrets()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "db", SecretsFileName); file != want || !created {
		t.Errorf("ResolveSecrets = %q, %v; want %q, true", file, created, want)
	}
	if c.GenerateSecrets || len(c.AccessTokenSecret) < MinSecretBytes || c.AccessTokenSecret.Equal(c.RefreshTokenSecret) {
		t.Errorf("after ResolveSecrets: GenerateSecrets %v, secrets not set", c.GenerateSecrets)
	}

	again, err := load("DATABASE_URL", "sqlite:file:"+dbPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	if _, created, err := again.ResolveSecrets(); err != nil || created || !again.AccessTokenSecret.Equal(c.AccessTokenSecret) {
		t.Errorf("second start: created %v, err %v; want the kept secrets", created, err)
	}

	mem, err := load("DATABASE_URL", "sqlite::memory:")
	if err != nil {
		t.Fatal(err)
	}
	file, created, err = mem.ResolveSecrets()
	if err != nil || file != "" || !created || len(mem.AccessTokenSecret) < MinSecretBytes {
		t.Errorf("in-memory: %q, %v, %v; want fresh secrets and no file", file, created, err)
	}

	set, err := load("ACCESS_TOKEN_SECRET", accessSecret, "REFRESH_TOKEN_SECRET", refreshSecret)
	if err != nil {
		t.Fatal(err)
	}
	if file, created, err := set.ResolveSecrets(); err != nil || file != "" || created || string(set.AccessTokenSecret) != accessSecret {
		t.Errorf("configured secrets: %q, %v, %v; want nothing done", file, created, err)
	}
}
