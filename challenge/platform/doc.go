// Package platform runs zoo's challenges (see package challenge for the
// rules): Service creates challenges, takes submissions within the
// phases' limits, evaluates them (the "challenge-eval" job: predictions
// scored with package score, or a published model run with package runner
// on the hidden inputs inside the worker) and decides who sees what;
// Handler serves the JSON API under /api/v1/challenges (each route with
// its OpenAPI operation), the leaderboard exports (CSV, JSON) and the
// server-rendered pages under /challenges, which draw their plots as
// inline SVG and set their own Content-Security-Policy (the pages package's stylesheet
// /static/style.css is linked when served; a small inline style, allowed by
// its hash, keeps the pages readable without it).
//
// Errors are *zoo.Error with a Kind web maps to a status: a refused
// submission is Invalid (400) naming the file and why, a limit or a closed
// phase Conflict (409), a hidden leaderboard Forbidden (403), a hidden file
// or another participant's submission NotFound (404).
package platform
