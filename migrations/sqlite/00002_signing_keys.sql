-- +goose Up

-- Access-token signing keys (API.md section 8). A key's state is not stored:
-- it follows from activates_at and retired_at (signing.Schedule.States), so
-- every instance reading these rows agrees on it.
CREATE TABLE signing_keys (
    -- The RFC 7638 thumbprint of the public key: the kid of its tokens.
    id                 TEXT    NOT NULL PRIMARY KEY,
    alg                TEXT    NOT NULL,
    -- PKIX DER.
    public_key         BLOB    NOT NULL,
    -- PKCS #8 DER sealed with AES-256-GCM under KEY_ENCRYPTION_KEY; never
    -- stored in the clear.
    sealed_private_key BLOB    NOT NULL,
    created_at         INTEGER NOT NULL,
    activates_at       INTEGER NOT NULL,
    retired_at         INTEGER
) STRICT;
