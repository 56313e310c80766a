package records

import "time"

// Verify is one snapshot's last verification (KindVerify, by snapshot ID):
// prune keeps the newest good snapshot.
type Verify struct {
	OK     bool      `record:"ok"`
	At     time.Time `record:"at"`
	Source string    `record:"source"`
}

// VerifyRun is a source's last verify run (KindVerifyRun, by source).
type VerifyRun struct {
	OK        bool      `record:"ok"`
	At        time.Time `record:"at"`
	Snapshots int       `record:"snapshots"`
	Problems  int       `record:"problems"`
	// Read is the fraction of the file content read back.
	Read float64 `record:"read"`
}

// RestoreTest is a source's last restore test (KindRestoreTest, by source).
// A test that could not run records only its error, in Problems.
type RestoreTest struct {
	At       time.Time `record:"at"`
	Snapshot string    `record:"snapshot"`
	Seconds  float64   `record:"seconds,prec=3"`
	OK       bool      `record:"ok"`
	Problems string    `record:"problems"`
	// Checked says what was compared ("12 tables").
	Checked    string `record:"checked,omitempty"`
	Assertions *int   `record:"assertions"`
}

// Copy is a copy's last replication (KindCopy, by copy name).
type Copy struct {
	At    time.Time `record:"at"`
	OK    bool      `record:"ok"`
	Blobs int       `record:"blobs"`
	Bytes int64     `record:"bytes"`
	Total int       `record:"total"`
	// Restorable is the newest instant the copy restores, by source.
	Restorable map[string]time.Time `record:"restorable,json"`
}

// Job is a scheduled job's last run (KindJob, by job name).
type Job struct {
	Last    time.Time `record:"last"`
	Outcome string    `record:"outcome"` // "ok" or "failed"
}

// Pin keeps a snapshot whatever the retention rules say (KindPin, by
// snapshot ID).
type Pin struct {
	Reason string    `record:"reason"`
	By     string    `record:"by"`
	At     time.Time `record:"at,seconds"`
}

// AuditTrail marks that the audit log's copy in the repository was begun
// (KindAuditTrail, key "copy"), so a copy deleted later is noticed.
type AuditTrail struct {
	At time.Time `record:"at,seconds"`
}

// BinlogState is a binlog streamer's progress (the state of kind
// StateBinlog, by source): the archive holds everything the server wrote
// up to Covered, which ends at File:Pos of Epoch.
type BinlogState struct {
	Covered time.Time `record:"covered"`
	Epoch   string    `record:"epoch"`
	File    string    `record:"file"`
	Pos     uint32    `record:"pos"`
	Updated time.Time `record:"updated"`
}
