package mail

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/tokengate/tokengate/auth"
)

// WorkerConfig tunes a Worker; zero fields take the defaults of
// DefaultWorkerConfig.
type WorkerConfig struct {
	// From is the sender address (MAIL_FROM).
	From string
	// Poll is how often the queue is looked at when it was found empty.
	Poll time.Duration
	// Batch is how many mails one claim takes.
	Batch int
	// SendTimeout bounds one message's delivery.
	SendTimeout time.Duration
	// Lease is how long a claim may stay unmarked before it is taken for a
	// worker that stopped while sending. It must be well above
	// SendTimeout: a claim younger than it may be another instance's,
	// still at work.
	Lease time.Duration
	// MaxAttempts is how many times a mail is tried before it is given up.
	MaxAttempts int
	// Backoff is the wait after the first failed attempt; it doubles with
	// each further one, up to MaxBackoff.
	Backoff    time.Duration
	MaxBackoff time.Duration
}

// DefaultWorkerConfig returns the defaults: a look every second, 30 s per
// message, retries after 30 s, 1 m, 2 m … up to 1 h, given up after 12
// attempts (about 7 hours of outage).
func DefaultWorkerConfig() WorkerConfig {
	return WorkerConfig{
		From:        "tokengate <no-reply@localhost>",
		Poll:        time.Second,
		Batch:       10,
		SendTimeout: 30 * time.Second,
		Lease:       10 * time.Minute,
		MaxAttempts: 12,
		Backoff:     30 * time.Second,
		MaxBackoff:  time.Hour,
	}
}

// Worker sends the mail queued in the outbox.
//
// Each mail is sent at most once. A worker marks a mail as being sent, in a
// committed statement, before it hands the mail to the Sender, and marks it
// sent after; a mail is only ever retried when the Sender says it was not
// delivered. A crash between the two marks leaves the mail claimed: at the
// next start (of any instance, once the claim is older than Lease) it is
// recorded as of unknown fate and never sent again. The alternative,
// sending again with the same Message-ID, would deliver a second copy, since
// most mailboxes do not deduplicate; a lost reset or verification mail is
// asked for again by its reader, a duplicate cannot be taken back. On
// PostgreSQL the claim takes rows with FOR UPDATE SKIP LOCKED, so instances
// never claim one mail twice.
type Worker struct {
	store  auth.RecoveryStore
	key    *auth.LinkKey
	tmpl   *Templates
	send   Sender
	cfg    WorkerConfig
	now    auth.Clock
	log    *slog.Logger
	wakeup chan struct{}
}

// NewWorker builds a worker. tmpl may be nil for DefaultTemplates.
func NewWorker(store auth.RecoveryStore, key *auth.LinkKey, tmpl *Templates, send Sender, cfg WorkerConfig, now auth.Clock, log *slog.Logger) *Worker {
	d := DefaultWorkerConfig()
	if cfg.From == "" {
		cfg.From = d.From
	}
	if cfg.Poll <= 0 {
		cfg.Poll = d.Poll
	}
	if cfg.Batch <= 0 {
		cfg.Batch = d.Batch
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = d.SendTimeout
	}
	if cfg.Lease <= 0 {
		cfg.Lease = d.Lease
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = d.MaxAttempts
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = d.Backoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = d.MaxBackoff
	}
	if tmpl == nil {
		tmpl = DefaultTemplates()
	}
	return &Worker{store: store, key: key, tmpl: tmpl, send: send, cfg: cfg, now: now, log: log, wakeup: make(chan struct{}, 1)}
}

// Wake makes a running worker look at the queue now rather than at its
// next poll. It never blocks.
func (w *Worker) Wake() {
	select {
	case w.wakeup <- struct{}{}:
	default:
	}
}

// Run sends queued mail until ctx ends. A mail being sent when ctx ends is
// finished (within SendTimeout) and marked before Run returns, so a clean
// shutdown loses nothing. Store failures are logged and retried at the
// next poll.
func (w *Worker) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-w.wakeup:
		}
		n, err := w.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			w.log.WarnContext(ctx, "mail outbox", "err", err)
		}
		wait := w.cfg.Poll
		if n == w.cfg.Batch {
			wait = 0 // more may be waiting
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// RunOnce records stale claims as of unknown fate, then claims one batch of
// due mail and delivers it. It returns how many mails it claimed.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	now := w.now().UTC()
	lost, err := w.store.AbandonMail(ctx, now.Add(-w.cfg.Lease), now)
	if err != nil {
		return 0, err
	}
	for _, id := range lost {
		w.log.WarnContext(ctx, "mail claimed by a worker that stopped while sending it; it may or may not have been delivered and is not sent again",
			"mail", id)
	}
	list, err := w.store.ClaimMail(ctx, now, w.cfg.Batch)
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, m := range list {
		// Claimed mail is delivered and marked even if ctx ends meanwhile:
		// left claimed, it would be lost.
		if err := w.deliver(context.WithoutCancel(ctx), m); err != nil {
			errs = append(errs, err)
		}
	}
	return len(list), errors.Join(errs...)
}

// deliver sends one claimed mail and records the outcome. Its error is a
// store failure to record it; the mail is then left claimed, and so never
// sent twice.
func (w *Worker) deliver(ctx context.Context, m auth.Mail) error {
	msg, err := w.render(m)
	if err != nil {
		w.log.ErrorContext(ctx, "mail cannot be rendered; given up", "mail", m.ID, "err", err)
		return w.store.FailMail(ctx, m.ID, w.now().UTC(), "cannot be rendered: "+err.Error())
	}
	sendCtx, cancel := context.WithTimeout(ctx, w.cfg.SendTimeout)
	err = w.send.Send(sendCtx, msg)
	cancel()
	now := w.now().UTC()
	switch {
	case err == nil:
		w.log.InfoContext(ctx, "mail sent", "mail", m.ID, "template", m.Template, "attempt", m.Attempts)
		return w.store.MarkMailSent(ctx, m.ID, now)
	case errors.Is(err, ErrMaybeSent):
		w.log.WarnContext(ctx, "mail may have been delivered; not sent again", "mail", m.ID, "err", err)
		return w.store.FailMail(ctx, m.ID, now, err.Error())
	case errors.Is(err, ErrRejected) || m.Attempts >= w.cfg.MaxAttempts:
		w.log.ErrorContext(ctx, "mail given up", "mail", m.ID, "attempt", m.Attempts, "err", err)
		return w.store.FailMail(ctx, m.ID, now, err.Error())
	}
	next := now.Add(w.backoff(m.Attempts))
	w.log.WarnContext(ctx, "mail not sent; will retry", "mail", m.ID, "attempt", m.Attempts, "retry_at", next, "err", err)
	return w.store.RetryMail(ctx, m.ID, next, err.Error())
}

func (w *Worker) render(m auth.Mail) (Message, error) {
	v, err := w.key.OpenMail(m)
	if err != nil {
		return Message{}, err
	}
	subject, text, html, err := w.tmpl.Render(m.Template, v)
	if err != nil {
		return Message{}, err
	}
	return Message{ID: m.ID, From: w.cfg.From, To: m.To, Subject: subject, Text: text, HTML: html, Date: w.now()}, nil
}

// backoff is the wait after the attempt-th failure.
func (w *Worker) backoff(attempt int) time.Duration {
	d := w.cfg.Backoff
	for i := 1; i < attempt && d < w.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, w.cfg.MaxBackoff)
}
