// Package platform runs zoo's challenges (see package challenge for the
// rules): Service creates challenges, takes submissions within the
// phases' limits, evaluates them (the "challenge-eval" job: predictions
// scored with package score, or a published model run with package runner
// on the test inputs inside the worker) and decides who sees what;
// Handler serves the JSON API under /api/v1/challenges (each route with
// its OpenAPI operation), the leaderboard exports (CSV, JSON) and the
// server-rendered pages under /challenges, which draw their plots as
// inline SVG. Handler.Frame puts them in the site's layout (package
// pages' Frame: header, search, sign-in links, its CSP and stylesheet);
// without it they get a bare layout with their own Content-Security-Policy
// (a small inline style, allowed by its hash, keeps them readable).
//
// Routes (Handler.Routes lists them with their methods):
//
//	GET    /api/v1/challenges                                     list
//	POST   /api/v1/challenges                                     create (reviewers, admins)
//	GET    /api/v1/challenges/{slug}                              one challenge (organisers: with its "changes")
//	PATCH  /api/v1/challenges/{slug}                              edit (organisers): title, description, metrics, phases' dates and limits
//	GET    /api/v1/challenges/{slug}/files/{name}                 a public file or test input (never a ground truth)
//	POST   /api/v1/challenges/{slug}/phases/{phase}/submissions   submit
//	GET    /api/v1/challenges/{slug}/submissions                  the caller's submissions (organisers: all)
//	GET    /api/v1/challenges/{slug}/submissions/{id}             one submission
//	DELETE /api/v1/challenges/{slug}/submissions/{id}             withdraw (the submitter, phase open)
//	POST   /api/v1/challenges/{slug}/submissions/{id}/disqualify  {"reason": …} (organisers)
//	POST   /api/v1/challenges/{slug}/submissions/{id}/reinstate   (organisers)
//	GET    /api/v1/challenges/{slug}/phases/{phase}/leaderboard[.csv]
//	GET    /challenges, /challenges/{slug}, /challenges/{slug}/submissions/{id}
//	POST   /challenges/{slug}/phases/{phase}/submit                the challenge page's submit form (multipart: predictions or model)
//	POST   /challenges/{slug}/submissions/{id}/{withdraw,disqualify,reinstate}  the submission page's forms
//
// A withdrawn submission is kept for the record and never ranked; its slot
// is not refunded (it still counts against the phase's limits), and it no
// longer counts as the participant's best. A disqualified one is off the
// leaderboards and their exports until reinstated; its submitter sees the
// reason. An edit (Patch) changes only the fields sent; metrics cannot
// change once a submission exists and files never can.
//
// Errors are *zoo.Error with a Kind web maps to a status: a refused
// submission is Invalid (400) naming the file and why, a limit or a closed
// phase Conflict (409), a hidden leaderboard Forbidden (403), a hidden file
// or another participant's submission NotFound (404).
package platform
