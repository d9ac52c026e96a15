// Package notes is an app built on tokengate without editing it: a Note
// type with a GraphQL query and mutation, a REST route, a table of its own
// with its own migrations, and an error code of its own. Options is all it
// hands tokengate; its tests run it through tokengatetest and the Go
// client.
package notes

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/graph-gophers/graphql-go"

	"github.com/tokengate/tokengate/app"
	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/edge"
	"github.com/tokengate/tokengate/resolvers"
)

var (
	//go:embed schema/*.graphql
	schemaFiles embed.FS
	//go:embed migrations
	migrationFiles embed.FS
)

// CodeNoteTooLong is this app's own error code: a note past MaxNoteRunes.
const CodeNoteTooLong auth.Code = "NOTE_TOO_LONG"

// MaxNoteRunes is the longest note.
const MaxNoteRunes = 1000

// Options are the app's additions to tokengate, for app.New or
// tokengatetest.WithApp.
func Options() []app.Option {
	return []app.Option{
		app.WithSchema(sub(schemaFiles, "schema")),
		app.WithResolver(func(base *resolvers.Resolver, env app.Env) any {
			return &Root{Resolver: base, notes: &Store{env: env}}
		}),
		app.WithRoutes(func(r chi.Router, onError edge.ErrorWriter, env app.Env) {
			notes := &Store{env: env}
			r.Method(http.MethodGet, "/notes", handleList(notes, onError))
			r.Method(http.MethodPost, "/notes", handleAdd(notes, onError))
		}),
		app.WithMigrations(app.Migrations{
			SQLite:   sub(migrationFiles, "migrations/sqlite"),
			Postgres: sub(migrationFiles, "migrations/postgres"),
			Table:    "notes_schema_version",
		}),
		app.WithCode(CodeNoteTooLong, http.StatusUnprocessableEntity),
	}
}

func sub(fsys fs.FS, dir string) fs.FS {
	f, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // dir is a constant that the embed pattern covers
	}
	return f
}

// Note is one note.
type Note struct {
	ID        string    `json:"id"`
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"createdAt"`
}

// Store keeps notes in the database tokengate's store uses.
type Store struct{ env app.Env }

// Add writes a note of userID's.
func (s *Store) Add(ctx context.Context, userID, text string) (Note, error) {
	if text == "" {
		return Note{}, auth.BadUserInput("text is required")
	}
	if utf8.RuneCountInString(text) > MaxNoteRunes {
		return Note{}, &auth.Error{Code: CodeNoteTooLong, Message: fmt.Sprintf("a note is at most %d characters", MaxNoteRunes)}
	}
	n := Note{ID: uuid.NewString(), Text: text, CreatedAt: s.env.Now().UTC().Truncate(time.Microsecond)}
	_, err := s.env.DB.ExecContext(ctx, `INSERT INTO notes (id, user_id, text, created_at) VALUES ($1, $2, $3, $4)`,
		n.ID, userID, n.Text, n.CreatedAt.UnixMicro())
	if err != nil {
		return Note{}, fmt.Errorf("add note: %w", err)
	}
	return n, nil
}

// List returns userID's notes, newest first.
func (s *Store) List(ctx context.Context, userID string) ([]Note, error) {
	rows, err := s.env.DB.QueryContext(ctx, `SELECT id, text, created_at FROM notes WHERE user_id = $1 ORDER BY created_at DESC, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list notes: %w", err)
	}
	defer rows.Close()
	list := []Note{}
	for rows.Next() {
		var n Note
		var micros int64
		if err := rows.Scan(&n.ID, &n.Text, &micros); err != nil {
			return nil, fmt.Errorf("list notes: %w", err)
		}
		n.CreatedAt = time.UnixMicro(micros).UTC()
		list = append(list, n)
	}
	return list, errors.Join(rows.Err())
}

// Root is the root resolver: tokengate's fields through the embedded
// *resolvers.Resolver, the app's own beside them.
type Root struct {
	*resolvers.Resolver
	notes *Store
}

// Notes resolves Query.notes.
func (r *Root) Notes(ctx context.Context) ([]*noteResolver, error) {
	c, err := auth.RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	if err := resolvers.StoreField(ctx); err != nil {
		return nil, err
	}
	list, err := r.notes.List(ctx, c.UserID)
	if err != nil {
		return nil, err
	}
	out := make([]*noteResolver, len(list))
	for i, n := range list {
		out[i] = &noteResolver{n}
	}
	return out, nil
}

// AddNote resolves Mutation.addNote.
func (r *Root) AddNote(ctx context.Context, args struct{ Text string }) (*noteResolver, error) {
	c, err := auth.RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	if err := resolvers.StoreField(ctx); err != nil {
		return nil, err
	}
	n, err := r.notes.Add(ctx, c.UserID, args.Text)
	if err != nil {
		return nil, err
	}
	return &noteResolver{n}, nil
}

type noteResolver struct{ n Note }

func (n *noteResolver) ID() graphql.ID          { return graphql.ID(n.n.ID) }
func (n *noteResolver) Text() string            { return n.n.Text }
func (n *noteResolver) CreatedAt() graphql.Time { return graphql.Time{Time: n.n.CreatedAt} }

func handleList(notes *Store, onError edge.ErrorWriter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := auth.RequireCaller(r.Context())
		if err != nil {
			onError(w, r, err)
			return
		}
		list, err := notes.List(r.Context(), c.UserID)
		if err == nil {
			err = edge.WriteJSON(w, http.StatusOK, list)
		}
		if err != nil {
			onError(w, r, err)
		}
	})
}

func handleAdd(notes *Store, onError edge.ErrorWriter) http.Handler {
	type request struct {
		Text string `json:"text"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := auth.RequireCaller(r.Context())
		if err != nil {
			onError(w, r, err)
			return
		}
		var in request
		if err := edge.ReadJSON(w, r, &in); err != nil {
			onError(w, r, err)
			return
		}
		n, err := notes.Add(r.Context(), c.UserID, in.Text)
		if err == nil {
			err = edge.WriteJSON(w, http.StatusCreated, n)
		}
		if err != nil {
			onError(w, r, err)
		}
	})
}
