// Package access owns who may do what: the roles of the guide's recovery
// team, the permissions each grants, and (with the users and tokens kept in
// the repository) the principal a request acts as. Every front door that
// serves more than the repository's password holder (the HTTP API, the
// dashboard) asks Allows before it acts; pages only hide what it refuses.
package access

import (
	"fmt"
	"slices"
)

// Role is a set of permissions, named for the guide's recovery team.
type Role string

const (
	// Viewer sees health, snapshots and reports (a developer, the incident
	// manager following a recovery).
	Viewer Role = "viewer"
	// Developer is a viewer who may also take masked copies of a database
	// source (a masked export): production-like data without the personal
	// data, and nothing else of the backups.
	Developer Role = "developer"
	// Auditor is a developer who also reads the audit trail and downloads
	// evidence (the security officer).
	Auditor Role = "auditor"
	// Operator also backs up, verifies, runs restore tests and drills, and
	// restores into scratch targets (the system and database administrators
	// on call).
	Operator Role = "operator"
	// Admin also restores over production data, prunes, pins and unpins, and
	// manages users and tokens.
	Admin Role = "admin"
)

// Roles lists every role from the least to the most allowed.
var Roles = []Role{Viewer, Developer, Auditor, Operator, Admin}

// ParseRole checks a role name a user gave.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !slices.Contains(Roles, r) {
		return "", fmt.Errorf("unknown role %q: use viewer, developer, auditor, operator or admin", s)
	}

	return r, nil
}

// Permission is one kind of action the server checks.
type Permission string

const (
	// ReadHealth: sources and their health, status, schedule, jobs.
	ReadHealth Permission = "read-health"
	// ReadSnapshots: snapshots, their trees, recovery points, the binlog
	// archive's ranges and gaps, copies.
	ReadSnapshots Permission = "read-snapshots"
	// ReadReports: drills and their reports, the compliance report.
	ReadReports Permission = "read-reports"
	// ReadAudit: the audit trail.
	ReadAudit Permission = "read-audit"
	// DownloadEvidence: drill evidence and report downloads.
	DownloadEvidence Permission = "download-evidence"
	// DownloadData: a file's contents from a snapshot (backup data leaves
	// the repository).
	DownloadData Permission = "download-data"
	// MaskedCopy: a masked export of a database source in strict masking
	// mode (every column that looks personal has a rule, or the copy is
	// refused), which holds no personal data. An unmasked export, or a
	// masked one in permissive mode, needs DownloadData.
	MaskedCopy Permission = "masked-copy"
	// Operate: backup now, verify, restore test, drill, replicate.
	Operate Permission = "operate"
	// RestoreScratch: a restore or point-in-time restore into a target that
	// is not the production source (a new directory, a scratch database).
	RestoreScratch Permission = "restore-scratch"
	// RestoreProduction: a restore over the source's own data.
	RestoreProduction Permission = "restore-production"
	// Prune: retention (a dry run needs only ReadSnapshots), pin and unpin.
	Prune Permission = "prune"
	// ManageAccess: users and tokens.
	ManageAccess Permission = "manage-access"
)

// grants is what each role adds to the one before it in Roles.
var grants = map[Role][]Permission{
	Viewer:    {ReadHealth, ReadSnapshots, ReadReports},
	Developer: {MaskedCopy},
	Auditor:   {ReadAudit, DownloadEvidence},
	Operator:  {Operate, RestoreScratch, DownloadData},
	Admin:     {RestoreProduction, Prune, ManageAccess},
}

// Allows reports whether role r has permission p.
func Allows(r Role, p Permission) bool {
	if !slices.Contains(Roles, r) {
		return false
	}

	for _, role := range Roles {
		if slices.Contains(grants[role], p) {
			return true
		}

		if role == r {
			return false
		}
	}

	return false
}

// Permissions lists what role r may do, for the README's table and the
// server's refusals.
func Permissions(r Role) []Permission {
	var out []Permission

	for _, role := range Roles {
		out = append(out, grants[role]...)

		if role == r {
			return out
		}
	}

	return nil
}

// Principal is who a request acts as: a user (after login) or a token.
type Principal struct {
	// Name is the user's or the token's name: what the audit trail records.
	Name string
	// Kind is "user" or "token".
	Kind string
	Role Role
	// SecondFactor is set when the login proved a second factor (a TOTP
	// or recovery code): a session it starts counts as freshly stepped up.
	SecondFactor bool
}
