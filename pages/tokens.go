package pages

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/catalog"
	"github.com/zoo-bioimage/zoo/web"
)

// tokensPage is the data of /my/tokens: the caller's API tokens, and after
// a POST the outcome (a new token's secret is shown in that answer only,
// never put in a URL).
type tokensPage struct {
	Tokens  []web.TokenInfo
	Secret  string // a token just made
	Made    string // its name
	Error   string
	Notice  string
	MaxDays int
}

// tokens lists the caller's API tokens with forms to make and revoke them.
func (p *Pages) tokens(w http.ResponseWriter, r *http.Request) {
	if p.needLogin(w, r) {
		return
	}
	p.renderTokens(w, r, http.StatusOK, &tokensPage{})
}

func (p *Pages) renderTokens(w http.ResponseWriter, r *http.Request, status int, d *tokensPage) {
	list, err := p.svc.Catalog().Tokens(r.Context(), web.UserOf(r).ID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	now := catalog.Now()
	for _, t := range list {
		d.Tokens = append(d.Tokens, web.TokenInfoOf(t, now))
	}
	d.MaxDays = web.MaxTokenDays
	p.render(w, r, status, "tokens", "My API tokens", d)
}

// tokensPost makes (action=create, name, expires_in_days) or revokes
// (action=revoke, name) one of the caller's tokens. The session
// middleware has checked the CSRF token.
func (p *Pages) tokensPost(w http.ResponseWriter, r *http.Request) {
	u := web.UserOf(r)
	if u == nil {
		p.fail(w, r, zoo.E("pages.tokens", zoo.Unauthorized, nil, "log in to manage your tokens"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		p.fail(w, r, zoo.E("pages.tokens", zoo.Invalid, err, "the token form could not be read"))
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	d := &tokensPage{}
	switch r.PostForm.Get("action") {
	case "create":
		days := 0
		if s := strings.TrimSpace(r.PostForm.Get("expires_in_days")); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				d.Error = "the expiry is a number of days (or empty for none)"
				p.renderTokens(w, r, http.StatusBadRequest, d)
				return
			}
			days = n
		}
		secret, t, err := web.CreateUserToken(r, p.svc.Catalog(), u, name, days, "page")
		if err != nil {
			d.Error = userMessage(err)
			p.renderTokens(w, r, statusOf(err), d)
			return
		}
		d.Secret, d.Made = secret, t.Name
	case "revoke":
		t, err := web.RevokeUserToken(r, p.svc.Catalog(), u, name, "page")
		if err != nil {
			d.Error = userMessage(err)
			p.renderTokens(w, r, statusOf(err), d)
			return
		}
		d.Notice = "token " + t.Name + " revoked"
	default:
		d.Error = "choose to create or revoke a token"
		p.renderTokens(w, r, http.StatusBadRequest, d)
		return
	}
	p.renderTokens(w, r, http.StatusOK, d)
}

// statusOf is the HTTP status of a form's failure.
func statusOf(err error) int {
	switch zoo.KindOf(err) {
	case zoo.Invalid:
		return http.StatusBadRequest
	case zoo.NotFound:
		return http.StatusNotFound
	case zoo.Conflict:
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}
