package api

import (
	_ "embed"

	"lifeboat/internal/access"
)

// openAPI is the API's OpenAPI 3 document, kept true to the route table by
// its test.
//
//go:embed openapi.json
var openAPI []byte

// routes is the route table: the permission each route needs (the README's
// roles table) and whether its calls are audited.
var routes = []Route{
	{"POST", "/api/v1/session", "", false, login},
	{"DELETE", "/api/v1/session", "", false, logout},
	{"GET", "/api/v1/session/oidc", "", false, oidcStart},
	{"GET", "/api/v1/session/oidc/callback", "", false, oidcCallback},
	{"POST", "/api/v1/session/step-up", "", false, stepUp},
	{"GET", "/api/v1/session", "", false, sessionInfo},
	{"GET", "/api/v1/account", access.ReadHealth, false, getAccount},
	{"POST", "/api/v1/account/password", access.ReadHealth, true, changePassword},
	{"POST", "/api/v1/account/mfa", access.ReadHealth, true, beginMFA},
	{"POST", "/api/v1/account/mfa/confirm", access.ReadHealth, true, confirmMFA},
	{"POST", "/api/v1/account/tokens", access.ReadHealth, true, createToken},
	{"DELETE", "/api/v1/account/tokens/{name}", access.ReadHealth, true, revokeToken},

	{"GET", "/api/v1/status", access.ReadHealth, false, status},
	{"GET", "/api/v1/sources", access.ReadHealth, false, listSources},
	{"GET", "/api/v1/jobs", access.ReadHealth, false, listJobs},
	{"GET", "/api/v1/jobs/{id}", access.ReadHealth, false, getJob},
	{"GET", "/api/v1/jobs/{id}/events", access.ReadHealth, false, jobEvents},
	{"DELETE", "/api/v1/jobs/{id}", access.Operate, true, cancelJob},

	{"GET", "/api/v1/snapshots", access.ReadSnapshots, false, listSnapshots},
	{"GET", "/api/v1/snapshots/{id}/tree", access.ReadSnapshots, true, tree},
	{"GET", "/api/v1/snapshots/{id}/file", access.DownloadData, true, file},
	{"GET", "/api/v1/recovery-points", access.ReadSnapshots, false, recoveryPoints},
	{"GET", "/api/v1/sources/{name}/binlog", access.ReadSnapshots, false, binlogArchive},
	{"GET", "/api/v1/copies", access.ReadSnapshots, false, listCopies},
	{"GET", "/api/v1/pins", access.ReadSnapshots, false, pins},

	{"GET", "/api/v1/reports/compliance", access.ReadReports, false, compliance},
	{"GET", "/api/v1/drills", access.ReadReports, false, drills},
	{"GET", "/api/v1/audit", access.ReadAudit, false, auditTrail},
	{"GET", "/api/v1/audit/chain", access.ReadAudit, false, auditChain},

	{"POST", "/api/v1/sources/{name}/backup", access.Operate, true, backup},
	{"POST", "/api/v1/sources/{name}/verify", access.Operate, true, verify},
	{"POST", "/api/v1/sources/{name}/restore-test", access.Operate, true, restoreTest},
	{"POST", "/api/v1/plans/{name}/drill", access.Operate, true, drill},
	{"POST", "/api/v1/replicate", access.Operate, true, replicate},
	{"POST", "/api/v1/restore", access.RestoreScratch, true, restore},
	{"POST", "/api/v1/sources/{name}/export", access.MaskedCopy, true, export},

	{"GET", "/api/v1/users", access.ManageAccess, false, listUsers},
	{"POST", "/api/v1/users", access.ManageAccess, true, addUser},
	{"POST", "/api/v1/users/{name}/role", access.ManageAccess, true, setRole},
	{"DELETE", "/api/v1/users/{name}", access.ManageAccess, true, removeUser},

	{"POST", "/api/v1/prune", access.Prune, true, pruneRepo},
	{"POST", "/api/v1/snapshots/{id}/pin", access.Prune, true, pin},
	{"POST", "/api/v1/snapshots/{id}/unpin", access.Prune, true, unpin},
}
