package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/catalog"
)

// The caller's own API tokens:
//
//	GET    /api/v1/tokens          the caller's tokens (names, dates; never secrets), newest first
//	POST   /api/v1/tokens          {"name", "expires_in_days"} → 201 with the new secret, shown once
//	DELETE /api/v1/tokens/{name}   revoke the caller's active token of that name
//
// Every signed-in user manages only their own tokens (the operator uses
// zoo admin for anyone's). Creation and revocation are audited.

// MaxActiveTokens bounds the active tokens of one user.
const MaxActiveTokens = 100

// MaxTokenDays is the longest expiry a token may be given (10 years).
const MaxTokenDays = 3650

// TokenInfo is a token as the API shows it.
type TokenInfo struct {
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	Active     bool       `json:"active"` // neither revoked nor expired
}

// TokenInfoOf is t as the API shows it at now.
func TokenInfoOf(t zoo.Token, now time.Time) TokenInfo {
	return TokenInfo{Name: t.Name, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt,
		Active: t.RevokedAt == nil && (t.ExpiresAt == nil || t.ExpiresAt.After(now))}
}

// NewTokenRequest is the body of POST /api/v1/tokens.
type NewTokenRequest struct {
	Name          string `json:"name"`
	ExpiresInDays int    `json:"expires_in_days,omitempty"` // 0: never
}

// NewTokenResponse is the answer to POST /api/v1/tokens: the secret, shown
// only this once.
type NewTokenResponse struct {
	Token string `json:"token"`
	TokenInfo
}

// CreateUserToken makes a token for u (name and expiry checked as the API
// does) and audits it; the secret is returned once. The pages use it too.
func CreateUserToken(r *http.Request, cat zoo.Catalog, u *zoo.User, name string, days int, via string) (string, *zoo.Token, error) {
	const op = "web.createToken"
	ctx := r.Context()
	if err := catalog.CheckTokenName(op, name); err != nil {
		return "", nil, err
	}
	if days < 0 || days > MaxTokenDays {
		return "", nil, zoo.E(op, zoo.Invalid, nil, "expires_in_days %d: give 1 to %d days, or leave it out for a token that does not expire", days, MaxTokenDays)
	}
	list, err := cat.Tokens(ctx, u.ID)
	if err != nil {
		return "", nil, err
	}
	active := 0
	now := catalog.Now()
	for _, t := range list {
		if TokenInfoOf(t, now).Active {
			active++
		}
	}
	if active >= MaxActiveTokens {
		return "", nil, zoo.E(op, zoo.Conflict, nil, "you have %d active tokens, the most one user may have; revoke some first", active)
	}
	var exp *time.Time
	if days > 0 {
		e := now.Add(time.Duration(days) * 24 * time.Hour)
		exp = &e
	}
	secret := NewToken()
	t, err := cat.CreateNamedToken(ctx, u.ID, HashToken(secret), name, exp)
	if err != nil {
		return "", nil, err
	}
	cat.AddAudit(ctx, zoo.AuditEntry{At: now, ActorID: u.ID, Action: "token.create", Detail: via + ": " + name})
	return secret, t, nil
}

// RevokeUserToken revokes u's active token name and audits it.
func RevokeUserToken(r *http.Request, cat zoo.Catalog, u *zoo.User, name, via string) (*zoo.Token, error) {
	t, err := cat.RevokeTokenByName(r.Context(), u.ID, name)
	if err != nil {
		return nil, err
	}
	cat.AddAudit(r.Context(), zoo.AuditEntry{At: catalog.Now(), ActorID: u.ID, Action: "token.revoke", Detail: via + ": " + name})
	return t, nil
}

func (s *server) tokenRoutes() []Route {
	return []Route{
		{Pattern: "GET /api/v1/tokens", Auth: true, Handler: http.HandlerFunc(s.listTokens), Doc: json.RawMessage(listTokensDoc)},
		{Pattern: "POST /api/v1/tokens", Auth: true, Handler: http.HandlerFunc(s.createToken), Doc: json.RawMessage(createTokenDoc)},
		{Pattern: "DELETE /api/v1/tokens/{name}", Auth: true, Handler: http.HandlerFunc(s.revokeToken), Doc: json.RawMessage(revokeTokenDoc)},
	}
}

func (s *server) signedIn(w http.ResponseWriter, r *http.Request) *zoo.User {
	u := userOf(r)
	if u == nil {
		s.fail(w, r, zoo.E("web.tokens", zoo.Unauthorized, nil, "log in or send an API token to manage your tokens"))
	}
	return u
}

func (s *server) listTokens(w http.ResponseWriter, r *http.Request) {
	u := s.signedIn(w, r)
	if u == nil {
		return
	}
	list, err := s.svc.Catalog().Tokens(r.Context(), u.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := catalog.Now()
	out := make([]TokenInfo, 0, len(list))
	for _, t := range list {
		out = append(out, TokenInfoOf(t, now))
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
}

func (s *server) createToken(w http.ResponseWriter, r *http.Request) {
	u := s.signedIn(w, r)
	if u == nil {
		return
	}
	var req NewTokenRequest
	if err := s.decode(w, r, &req, true); err != nil {
		s.fail(w, r, err)
		return
	}
	secret, t, err := CreateUserToken(r, s.svc.Catalog(), u, req.Name, req.ExpiresInDays, "api")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", "/api/v1/tokens/"+url.PathEscape(t.Name))
	writeJSON(w, http.StatusCreated, NewTokenResponse{Token: secret, TokenInfo: TokenInfoOf(*t, catalog.Now())})
}

func (s *server) revokeToken(w http.ResponseWriter, r *http.Request) {
	u := s.signedIn(w, r)
	if u == nil {
		return
	}
	t, err := RevokeUserToken(r, s.svc.Catalog(), u, r.PathValue("name"), "api")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, TokenInfoOf(*t, catalog.Now()))
}

const tokenInfoSchema = `{"type": "object", "required": ["name", "created_at", "active"], "properties": {
	"name": {"type": "string"},
	"created_at": {"type": "string", "format": "date-time"},
	"expires_at": {"type": "string", "format": "date-time"},
	"last_used_at": {"type": "string", "format": "date-time", "description": "recorded at most once a minute"},
	"revoked_at": {"type": "string", "format": "date-time"},
	"active": {"type": "boolean", "description": "neither revoked nor expired"}}}`

const listTokensDoc = `{"tags": ["tokens"], "operationId": "listTokens", "summary": "The caller's API tokens",
	"description": "Names and dates of the caller's tokens, revoked and expired ones too, newest first; never the secrets.",
	"security": [{"bearer": []}],
	"responses": {"200": {"description": "The tokens", "content": {"application/json": {"schema": {"type": "object", "required": ["tokens"],
		"properties": {"tokens": {"type": "array", "items": ` + tokenInfoSchema + `}}}}}},
		"401": {"$ref": "#/components/responses/Unauthorized"}, "500": {"$ref": "#/components/responses/Internal"}, "503": {"$ref": "#/components/responses/Unavailable"}}}`

const createTokenDoc = `{"tags": ["tokens"], "operationId": "createToken", "summary": "Make an API token for the caller",
	"description": "The secret is in the answer and never shown again. The name (1 to 64 letters, digits, '.', '_', '-') is unique among the caller's active tokens; at most 100 active tokens per user.",
	"security": [{"bearer": []}],
	"requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {
		"name": {"type": "string", "maxLength": 64},
		"expires_in_days": {"type": "integer", "minimum": 0, "maximum": 3650, "description": "0 or absent: the token does not expire"}}}}}},
	"responses": {"201": {"description": "The new token", "content": {"application/json": {"schema": {"allOf": [` + tokenInfoSchema + `,
		{"type": "object", "required": ["token"], "properties": {"token": {"type": "string", "description": "the secret, shown once"}}}]}}}},
		"400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"},
		"409": {"$ref": "#/components/responses/Conflict"}, "413": {"$ref": "#/components/responses/TooLarge"},
		"500": {"$ref": "#/components/responses/Internal"}, "503": {"$ref": "#/components/responses/Unavailable"}}}`

const revokeTokenDoc = `{"tags": ["tokens"], "operationId": "revokeToken", "summary": "Revoke one of the caller's tokens by name",
	"description": "It no longer authenticates, and the web sessions made with it end. The name is free again.",
	"security": [{"bearer": []}],
	"parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
	"responses": {"200": {"description": "The revoked token", "content": {"application/json": {"schema": ` + tokenInfoSchema + `}}},
		"401": {"$ref": "#/components/responses/Unauthorized"}, "404": {"$ref": "#/components/responses/NotFound"},
		"500": {"$ref": "#/components/responses/Internal"}, "503": {"$ref": "#/components/responses/Unavailable"}}}`
