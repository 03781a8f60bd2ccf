package ftserver

import "github.com/zoo-bioimage/zoo/finetune/ftjob"

// The record and its store live in package ftjob, which the storage
// backends import (it must not import web or repo); these names make the
// service's code read as if they were its own.
type (
	Job      = ftjob.Job
	Store    = ftjob.Store
	State    = ftjob.State
	Settings = ftjob.Settings
)

const (
	Queued    = ftjob.Queued
	Running   = ftjob.Running
	Succeeded = ftjob.Succeeded
	Failed    = ftjob.Failed
	Cancelled = ftjob.Cancelled
)

// ErrTooMany is ftjob.ErrTooMany.
var ErrTooMany = ftjob.ErrTooMany
