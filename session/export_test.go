package session

// FormToken exposes formToken to the external tests.
var FormToken = formToken
