package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readme returns README.md.
func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// shBlocks returns the ```sh blocks of the README section whose heading
// line is heading, in order.
func shBlocks(t *testing.T, heading string) []string {
	t.Helper()
	_, after, ok := strings.Cut(readme(t), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README has no %q section", heading)
	}
	level := heading[:strings.IndexByte(heading, ' ')+1] // "## " or "### "
	if i := strings.Index(after, "\n"+level); i >= 0 {
		after = after[:i]
	}
	var blocks []string
	for {
		_, rest, ok := strings.Cut(after, "```sh\n")
		if !ok {
			return blocks
		}
		block, rest, _ := strings.Cut(rest, "```")
		blocks = append(blocks, block)
		after = rest
	}
}

func needCurl(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("curl is required to check the README's examples")
		}
		t.Skip("curl not installed; the README's examples are not checked")
	}
}

// answerMark separates the output of the commands before one "# =>"
// answer from the next.
const answerMark = "@@readme-answer@@"

// answers turns a README shell block into a script that prints answerMark
// where each "# =>" answer is written, and returns the answers: each one's
// lines joined, continuation lines ("#     ...") included.
func answers(block string) (script string, want []string) {
	var b strings.Builder
	inAnswer := false
	for line := range strings.Lines(block) {
		switch {
		case strings.HasPrefix(line, "# =>"):
			b.WriteString("printf '\\n%s\\n' '" + answerMark + "'\n")
			want = append(want, strings.TrimSpace(strings.TrimPrefix(line, "# =>")))
			inAnswer = true
			continue
		case inAnswer && strings.HasPrefix(line, "#    "):
			want[len(want)-1] += strings.TrimSpace(strings.TrimPrefix(line, "#"))
			continue
		}
		inAnswer = false
		b.WriteString(line)
	}
	return b.String(), want
}

// matchesAnswer reports whether got holds every part of want between its
// "..." elisions, in order.
func matchesAnswer(got, want string) bool {
	for part := range strings.SplitSeq(want, "...") {
		i := strings.Index(got, part)
		if i < 0 {
			return false
		}
		got = got[i+len(part):]
	}
	return true
}

// TestReadmeWalkthroughWorksAsPrinted runs the README's curl walk-through
// and then the example query that continues it, unchanged but for the port,
// against the real program, and holds every "# =>" answer they show to
// what the program answers.
func TestReadmeWalkthroughWorksAsPrinted(t *testing.T) {
	needCurl(t)
	walk := shBlocks(t, "## A walk-through with curl")
	example := shBlocks(t, "## Example: your own protected query")
	if len(walk) != 1 || len(example) != 1 {
		t.Fatalf("want one sh block in the walk-through and one in the example, got %d and %d", len(walk), len(example))
	}
	script, want := answers(walk[0] + example[0])
	if len(want) != 3 {
		t.Fatalf("want the three answers the README shows (SESSION_REVOKED, TOKEN_MISSING, myProfileStats), found %q", want)
	}

	dir := t.TempDir()
	p := start(t, env("ADDR", "127.0.0.1:0", "DATABASE_URL", "sqlite:"+filepath.Join(dir, "tg.db"), "BCRYPT_COST", "4"))
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", strings.ReplaceAll(script, "localhost:8080", p.addr))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("walk-through failed: %v\n%s", err, out)
	}
	segments := strings.Split(string(out), answerMark+"\n")
	if len(segments) != len(want)+1 {
		t.Fatalf("want %d answers in the output, got:\n%s", len(want), out)
	}
	for i, w := range want {
		if !matchesAnswer(segments[i], w) {
			t.Errorf("the README shows\n  %s\nbut the program answered\n  %s", w, segments[i])
		}
	}
	for _, want := range []string{
		`"loggedInUser":{"id":`,     // step 2, GraphQL
		`"email":"ada@example.com"`, // step 2, REST
	} {
		if !strings.Contains(segments[0], want) {
			t.Errorf("walk-through output lacks %s:\n%s", want, out)
		}
	}
	if strings.Count(segments[0], `"name":"Ada Lovelace"`) < 4 {
		t.Errorf("expected the user in the register, GraphQL, /auth/me and refreshed /auth/me answers:\n%s", out)
	}
}

func TestMatchesAnswer(t *testing.T) {
	for _, tc := range []struct {
		got, want string
		ok        bool
	}{
		{`{"data":{"n":1}}`, `{"data":{"n":1}}`, true},
		{`{"a":"x","b":1}`, `{"a":"...","b":1}`, true},
		{`{"a":"x","b":0}`, `{"a":"...","b":1}`, false},
		{`{"b":1,"a":"x"}`, `{"a":...,"b":1}`, false}, // order matters
	} {
		if got := matchesAnswer(tc.got, tc.want); got != tc.ok {
			t.Errorf("matchesAnswer(%s, %s) = %v", tc.got, tc.want, got)
		}
	}
}

// TestReadmeOpensWithTwoCommands keeps the README's opening true: two
// commands, and what the first one costs on a fresh machine.
func TestReadmeOpensWithTwoCommands(t *testing.T) {
	text := readme(t)
	_, first, _ := strings.Cut(text, "```sh\n")
	block, after, _ := strings.Cut(first, "```")
	var commands []string
	for line := range strings.Lines(block) {
		cmd, _, _ := strings.Cut(line, "#")
		commands = append(commands, strings.TrimSpace(cmd))
	}
	if strings.Join(commands, "; ") != "go run .; make test" {
		t.Errorf("the README opens with %q; want go run . and make test", commands)
	}
	para, _, _ := strings.Cut(strings.TrimSpace(after), "\n\n")
	if !regexp.MustCompile("^The first `go run .` takes about two minutes").MatchString(para) {
		t.Errorf("the paragraph after the two commands does not say the first go run takes about two minutes:\n%s", para)
	}
}

// TestReadmeWarnsThatShellSecretsChange keeps the PostgreSQL section's
// warning, and its advice, in place: secrets made with $(openssl rand ...)
// in each new shell differ from shell to shell.
func TestReadmeWarnsThatShellSecretsChange(t *testing.T) {
	_, section, _ := strings.Cut(readme(t), "\n### PostgreSQL\n")
	section, _, _ = strings.Cut(section, "\n### ")
	prose := strings.Join(strings.Fields(section), " ")
	for _, want := range []string{
		"Make the token secrets once and keep them. `$(openssl rand ...)` typed into each new shell makes new secrets in each",
		"> tokengate.env",
		". ./tokengate.env",
	} {
		if !strings.Contains(prose, want) {
			t.Errorf("the README's PostgreSQL section no longer says %q", want)
		}
	}
	if strings.Contains(section, "export ACCESS_TOKEN_SECRET=$(openssl") {
		t.Error("the README's PostgreSQL section exports a new secret in every shell again")
	}
}
