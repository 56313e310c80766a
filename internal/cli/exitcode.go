package cli

import (
	"errors"
	"fmt"
	"strings"

	"lifeboat/internal/binlog"
	"lifeboat/internal/config"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// The exit codes, the one place they are defined: scripts branch on them,
// so a code never changes its meaning once released. 3 to 9 are runs that
// ended with a verdict short of clean; 10 to 19 are runs the repository
// refused before doing anything. 3 and 10 to 12 mean what they mean to
// restic, so a script written for it reads these the same way.
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitUsage  = 2
	// ExitPartial: the run did part of what was asked and kept it (a backup
	// that left out unreadable files, some sources or copies done and
	// others failed).
	ExitPartial = 3
	// ExitOutOfObjective: status found a source out of its objective.
	ExitOutOfObjective = 4
	// ExitNoRepository: no repository at the location given.
	ExitNoRepository = 10
	// ExitBusy: another lifeboat process holds a lock the run needs.
	ExitBusy = 11
	// ExitWrongPassword: the password does not open the repository.
	ExitWrongPassword = 12
)

// exitCodes is the table the root help and the README show.
var exitCodes = []struct {
	code    int
	meaning string
}{
	{ExitOK, "success"},
	{ExitFailed, "the operation failed"},
	{ExitUsage, "usage or configuration error (also: no password given)"},
	{ExitPartial, "partial result: part was done and kept (unreadable files left out, some sources or copies failed)"},
	{ExitOutOfObjective, "status: a source is out of its objective"},
	{ExitNoRepository, "no repository at the location (run `lifeboat init`)"},
	{ExitBusy, "locked: another lifeboat process holds the source or the repository"},
	{ExitWrongPassword, "wrong password"},
}

// exitCodesHelp lists the exit codes for the root help.
func exitCodesHelp() string {
	var b strings.Builder

	b.WriteString("Exit codes:")

	for _, c := range exitCodes {
		fmt.Fprintf(&b, "\n  %-3d %s", c.code, c.meaning)
	}

	return b.String()
}

// PartialError is a run that did part of what was asked and kept it: the
// error says what was left out.
type PartialError struct{ Err error }

func (e *PartialError) Error() string { return e.Err.Error() }
func (e *PartialError) Unwrap() error { return e.Err }

// ObjectiveError is status's verdict that a source is out of its objective.
type ObjectiveError struct{ Err error }

func (e *ObjectiveError) Error() string { return e.Err.Error() }
func (e *ObjectiveError) Unwrap() error { return e.Err }

// ExitCode maps an error to its exit code (the constants above). A verdict
// the command gave (partial, out of objective) comes first, then what the
// repository refused, then usage: a refusal names the cause more precisely
// than the usage error that may carry it.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, new(*PartialError)):
		return ExitPartial
	case errors.As(err, new(*ObjectiveError)):
		return ExitOutOfObjective
	case errors.Is(err, repo.ErrBusy):
		return ExitBusy
	case errors.Is(err, repo.ErrWrongPassword):
		return ExitWrongPassword
	case errors.Is(err, repo.ErrNotInitialized):
		return ExitNoRepository
	case isUsage(err):
		return ExitUsage
	}

	return ExitFailed
}

// isUsage tells errors the user fixes by changing the command line or the
// configuration.
func isUsage(err error) bool {
	var (
		ue  *UsageError
		ce  *config.Error
		ces config.Errors
		pe  *binlog.PlanError
		bce *binlog.ConfigError
	)

	switch {
	case errors.As(err, &ue), errors.As(err, &ce), errors.As(err, &ces), errors.As(err, &pe), errors.As(err, &bce):
		return true
	}

	for _, sentinel := range []error{
		repo.ErrNoPassword, repo.ErrSnapshotNotFound, repo.ErrAlreadyInitialized, repo.ErrIncompleteTarget,
		source.ErrTargetNotEmpty, source.ErrNotInSnapshot, source.ErrSystemSchema,
		repo.ErrStorageAuth, repo.ErrNoBucket, repo.ErrNoObjectLock,
	} {
		if errors.Is(err, sentinel) {
			return true
		}
	}

	return false
}
