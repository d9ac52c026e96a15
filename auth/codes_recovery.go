package auth

// CodeLinkInvalid is a password-reset or e-mail-verification token that is
// unknown, expired, already used or superseded (API.md section 5, HTTP 400).
const CodeLinkInvalid Code = "LINK_INVALID"

// ErrLinkInvalid is the one error for all four ways a link can be bad, so a
// client learns nothing about which it was.
var ErrLinkInvalid = &Error{Code: CodeLinkInvalid, Message: "this link is invalid or has expired; ask for a new one"}
