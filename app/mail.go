package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/config"
	"github.com/tokengate/tokengate/mail"
)

// linkKey derives the key link tokens are hashed under and queued mail is
// sealed with from the refresh-token secrets, which every instance shares
// and keeps across restarts. A label separates the uses: the derived key
// can neither sign nor check a refresh token. New links and mail use the
// first secret; the older ones REFRESH_TOKEN_SECRET still lists keep the
// links and mail made under them good, so the secret rotates as refresh
// tokens do: add the new one first, drop the old one once nothing made
// under it can matter (the longest of REFRESH_TOKEN_TTL,
// PASSWORD_RESET_TTL and EMAIL_VERIFICATION_TTL).
func linkKey(cfg config.Config) (*auth.LinkKey, error) {
	derive := func(secret []byte) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte("tokengate link key v1"))
		return m.Sum(nil)
	}
	var older [][]byte
	for _, s := range cfg.OldRefreshTokenSecrets {
		older = append(older, derive(s))
	}
	return auth.NewLinkKey(derive(cfg.RefreshTokenSecret), older...)
}

// newRecovery builds the recovery operations and the outbox worker that
// delivers their mail: to .eml files in an outbox folder, or over SMTP.
func newRecovery(cfg config.Config, st auth.Store, svc *auth.Service, now auth.Clock, log *slog.Logger) (*auth.Recovery, *mail.Worker, error) {
	rs, ok := st.(auth.RecoveryStore)
	if !ok {
		return nil, nil, errors.New("the store keeps no outbox")
	}
	key, err := linkKey(cfg)
	if err != nil {
		return nil, nil, err
	}
	rec, err := auth.NewRecovery(svc, rs, key, auth.RecoveryConfig{
		PublicURL:       cfg.Mail.PublicURL,
		ResetTTL:        cfg.Mail.PasswordResetTTL,
		VerificationTTL: cfg.Mail.EmailVerificationTTL,
		EmailBudget:     cfg.Mail.RateLimitEmail.N,
		EmailWindow:     cfg.Mail.RateLimitEmail.Per,
	})
	if err != nil {
		return nil, nil, err
	}
	var send mail.Sender
	if cfg.Mail.OutboxDir != "" {
		fs, err := mail.NewFileSender(cfg.Mail.OutboxDir)
		if err != nil {
			return nil, nil, fmt.Errorf("SMTP_URL: %w", err)
		}
		log.Info("e-mails are written as .eml files, not sent; set SMTP_URL to send them", "outbox", fs.Dir())
		send = fs
	} else {
		log.Info("e-mails are sent over SMTP", "smtp", cfg.Mail.SMTP.String())
		send = mail.NewSMTPSender(cfg.Mail.SMTP, mail.DefaultWorkerConfig().SendTimeout)
	}
	w := mail.NewWorker(rs, key, nil, send, mail.WorkerConfig{From: cfg.Mail.From}, now, log)
	return rec, w, nil
}

// pruneLinks deletes expired links, mail that left the queue and spent
// e-mail budgets, every pruneInterval, keeping pruneRetention of them.
func pruneLinks(ctx context.Context, rec *auth.Recovery, log *slog.Logger) {
	tick := time.NewTicker(pruneInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, err := rec.PruneLinks(ctx, pruneRetention); err != nil {
				log.Warn("pruning links and sent mail failed", "err", err)
			}
		}
	}
}
