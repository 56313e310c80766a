// Package metrics holds every Prometheus metric Lifeboat exports, in this one
// file, so the names the alert rules use cannot drift from the ones written.
// The daemon serves them on /metrics; a one-shot backup writes the same names
// in the node_exporter textfile format.
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"lifeboat/internal/clock"
)

// Metrics is one registry of Lifeboat's metrics.
type Metrics struct {
	reg *prometheus.Registry

	BackupLastSuccess *prometheus.GaugeVec
	BackupLastAttempt *prometheus.GaugeVec
	BackupDuration    *prometheus.GaugeVec
	BackupLogical     *prometheus.GaugeVec
	BackupStored      *prometheus.GaugeVec
	BackupFailures    *prometheus.CounterVec
	BackupInterval    *prometheus.GaugeVec
	RPOObjective      *prometheus.GaugeVec
	VerifyLast        *prometheus.GaugeVec
	VerifyOK          *prometheus.GaugeVec
	BinlogStreaming   *prometheus.GaugeVec
	BinlogArchive     *prometheus.GaugeVec
	BinlogSegments    *prometheus.GaugeVec
	BinlogStored      *prometheus.GaugeVec
	RestoreTestLast   *prometheus.GaugeVec
	RestoreTestOK     *prometheus.GaugeVec
	RestoreTestTime   *prometheus.GaugeVec
	// RestoreTestMasked says the last restore test restored a masked copy.
	RestoreTestMasked *prometheus.GaugeVec
	RecoveryDuration  *prometheus.GaugeVec
	RecoveryRPO       *prometheus.GaugeVec
	RTOObjective      *prometheus.GaugeVec
	PlanRPOObjective  *prometheus.GaugeVec
	DrillLast         *prometheus.GaugeVec
	DrillOK           *prometheus.GaugeVec
	DrillLastSuccess  *prometheus.GaugeVec
	CopyReplicated    *prometheus.GaugeVec
	CopyRestorable    *prometheus.GaugeVec
	Copies321         *prometheus.GaugeVec
	Media321          *prometheus.GaugeVec
	Offsite321        *prometheus.GaugeVec
	RepositorySize    prometheus.Gauge
	RepositoryUp      prometheus.Gauge
	JobsSkipped       *prometheus.CounterVec
	Info              *prometheus.GaugeVec

	// EscrowDrillLastSuccess and CopyOldPassword are the repository key's.
	EscrowDrillLastSuccess prometheus.Gauge
	CopyOldPassword        *prometheus.GaugeVec
	// RecoveryKitStale is 1 while the newest recovery kit no longer serves
	// (made before a password change, a rekey or a move).
	RecoveryKitStale prometheus.Gauge

	// Clock is the "now" the age metrics are measured from; nil is the wall clock.
	Clock clock.Clock

	mu         sync.Mutex
	restorable map[string]time.Time
	covered    map[string]time.Time
}

// New registers every metric.
func New(version string) *Metrics {
	st := []string{"source", "type"}
	src := []string{"source"}
	pl := []string{"plan"}

	m := &Metrics{
		reg: prometheus.NewRegistry(),
		BackupLastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_backup_last_success_timestamp_seconds",
			Help: "When the last successful backup of the source and type finished (Unix time)."}, st),
		BackupLastAttempt: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_backup_last_attempt_timestamp_seconds",
			Help: "When the last backup attempt of the source and type finished, successful or not (Unix time)."}, st),
		BackupDuration: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_backup_duration_seconds",
			Help: "How long the last backup of the source and type took."}, st),
		BackupLogical: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_backup_logical_bytes",
			Help: "Size of the data the last successful backup holds, before deduplication and compression."}, st),
		BackupStored: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_backup_stored_bytes",
			Help: "Bytes the last successful backup added to the repository (approximate when jobs overlap)."}, st),
		BackupFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lifeboat_backup_failures_total",
			Help: "Backups of the source and type that failed."}, st),
		BackupInterval: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_backup_schedule_interval_seconds",
			Help: "The longest time between two scheduled backups of the source and type."}, st),
		RPOObjective: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_rpo_objective_seconds",
			Help: "The recovery point objective of the source's tier."}, src),
		VerifyLast: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_verify_last_timestamp_seconds",
			Help: "When the source's snapshots were last verified (Unix time)."}, src),
		VerifyOK: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_verify_last_success",
			Help: "1 when the last verification of the source found no problem, 0 when it found one."}, src),
		BinlogStreaming: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_binlog_streaming",
			Help: "1 while the binlog streamer of the source is connected and archiving."}, src),
		BinlogArchive: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_binlog_archive_bytes",
			Help: "Bytes of binlog the source's archive holds."}, src),
		BinlogSegments: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_binlog_archive_segments",
			Help: "Segments in the source's binlog archive, as they were stored (a merged piece counts the segments it holds)."}, src),
		BinlogStored: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_binlog_archive_stored_segments",
			Help: "Pieces the repository holds for the source's binlog archive (one manifest each); merging segments lowers it."}, src),
		RestoreTestLast: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_restore_test_last_timestamp_seconds",
			Help: "When the source's newest backup was last restored and compared with what it recorded (Unix time)."}, src),
		RestoreTestOK: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_restore_test_last_success",
			Help: "1 when the source's last restore test matched the backup, 0 when it did not."}, src),
		RestoreTestTime: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_restore_test_duration_seconds",
			Help: "How long the source's last restore test took, restore and comparison."}, src),
		RestoreTestMasked: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_restore_test_masked",
			Help: "1 when the source's last restore test restored a masked copy (verify.masked: no personal data reached the scratch server), 0 when a plain one."}, src),
		RecoveryDuration: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_recovery_duration_seconds",
			Help: "Measured duration of the last drill or recovery of the plan, per step, named by its number and kind (step=\"2. restore database\", \"3. run\"); step=\"total\" is the measured RTO."}, []string{"plan", "mode", "step"}),
		RecoveryRPO: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_recovery_rpo_seconds",
			Help: "Age of the oldest data the last drill or recovery of the plan restored, when it started."}, []string{"plan", "mode"}),
		RTOObjective: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_recovery_rto_objective_seconds",
			Help: "The recovery time objective of the plan's tier."}, pl),
		PlanRPOObjective: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_recovery_rpo_objective_seconds",
			Help: "The recovery point objective of the plan's tier."}, pl),
		DrillLast: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_drill_last_timestamp_seconds",
			Help: "When the plan was last drilled (Unix time)."}, pl),
		DrillOK: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_drill_last_result",
			Help: "1 when the plan's last drill passed, 0 when it failed."}, pl),
		DrillLastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_drill_last_success_timestamp_seconds",
			Help: "When the plan last passed a drill (Unix time)."}, pl),
		CopyReplicated: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_copy_last_replicated_timestamp_seconds",
			Help: "When the copy was last brought up to date and verified (Unix time)."}, []string{"copy", "offline", "offsite"}),
		CopyRestorable: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_copy_restorable_timestamp_seconds",
			Help: "The newest instant the copy can restore the source to (Unix time)."}, []string{"copy", "source"}),
		Copies321: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_source_copies",
			Help: "How many verified copies can restore the source, the repository included (3-2-1: three)."}, src),
		Media321: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_source_copy_media",
			Help: "On how many kinds of media those copies are (3-2-1: two)."}, src),
		Offsite321: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_source_copies_offsite",
			Help: "How many of those copies are off site (3-2-1: one)."}, src),
		EscrowDrillLastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lifeboat_escrow_drill_last_success_timestamp_seconds",
			Help: "When an escrow drill last opened the repository from the recovery kit and the escrowed password alone, and restored a source (Unix time)."}),
		CopyOldPassword: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_copy_old_password",
			Help: "1 when the copy was last replicated before the repository's password changed, so it still opens with the old one."}, []string{"copy"}),
		RecoveryKitStale: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lifeboat_recovery_kit_stale",
			Help: "1 when the newest recovery kit was made before the password changed, the key was rotated or the repository or its copies moved: its holders cannot restore with it."}),
		RepositorySize: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lifeboat_repository_size_bytes",
			Help: "Bytes the repository takes in its storage."}),
		RepositoryUp: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lifeboat_repository_up",
			Help: "1 when the last access to the repository storage worked, 0 when it failed."}),
		JobsSkipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lifeboat_jobs_skipped_total",
			Help: "Scheduled runs skipped because the previous run on the same source was still going."}, []string{"job"}),
		Info: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_build_info",
			Help: "Always 1; the version label says which Lifeboat runs."}, []string{"version"}),

		restorable: map[string]time.Time{},
		covered:    map[string]time.Time{},
	}

	m.reg.MustRegister(m.BackupLastSuccess, m.BackupLastAttempt, m.BackupDuration, m.BackupLogical, m.BackupStored,
		m.BackupFailures, m.BackupInterval, m.RPOObjective, m.VerifyLast, m.VerifyOK, m.BinlogStreaming,
		m.BinlogArchive, m.BinlogSegments, m.BinlogStored,
		m.RestoreTestLast, m.RestoreTestOK, m.RestoreTestTime, m.RestoreTestMasked, m.RecoveryDuration, m.RecoveryRPO, m.RTOObjective,
		m.PlanRPOObjective, m.DrillLast, m.DrillOK, m.DrillLastSuccess,
		m.CopyReplicated, m.CopyRestorable, m.Copies321, m.Media321, m.Offsite321,
		m.EscrowDrillLastSuccess, m.CopyOldPassword, m.RecoveryKitStale,
		m.RepositorySize, m.RepositoryUp, m.JobsSkipped, m.Info, &ages{m})
	m.Info.WithLabelValues(version).Set(1)

	return m
}

var (
	rpoDesc = prometheus.NewDesc("lifeboat_rpo_seconds",
		"Age of the newest instant the source can be restored to: what would be lost if it were lost now.", []string{"source"}, nil)
	restorableDesc = prometheus.NewDesc("lifeboat_restorable_timestamp_seconds",
		"The newest instant the source can be restored to (Unix time).", []string{"source"}, nil)
	lagDesc = prometheus.NewDesc("lifeboat_binlog_lag_seconds",
		"How far the binlog archive is behind the server: time since the streamer last knew it held every event.", []string{"source"}, nil)
)

// ages computes the ages at scrape time, so they grow between updates.
type ages struct{ m *Metrics }

func (a *ages) Describe(ch chan<- *prometheus.Desc) {
	ch <- rpoDesc
	ch <- restorableDesc
	ch <- lagDesc
}

func (a *ages) Collect(ch chan<- prometheus.Metric) {
	a.m.mu.Lock()
	defer a.m.mu.Unlock()

	now := clock.Or(a.m.Clock).Now()

	for s, t := range a.m.restorable {
		ch <- prometheus.MustNewConstMetric(rpoDesc, prometheus.GaugeValue, now.Sub(t).Seconds(), s)
		ch <- prometheus.MustNewConstMetric(restorableDesc, prometheus.GaugeValue, float64(t.UnixNano())/1e9, s)
	}

	for s, t := range a.m.covered {
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, now.Sub(t).Seconds(), s)
	}
}

// SetRestorable records the newest restorable instant of a source.
func (m *Metrics) SetRestorable(source string, t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()

	if t.After(m.restorable[source]) {
		m.restorable[source] = t
	}
}

// SetBinlogCovered records when the streamer last knew the archive complete.
func (m *Metrics) SetBinlogCovered(source string, t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()

	if !t.IsZero() {
		m.covered[source] = t
	}
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// WriteTextfile writes the metrics for node_exporter's textfile collector,
// atomically (a temporary file renamed into place).
func (m *Metrics) WriteTextfile(path string) error {
	return prometheus.WriteToTextfile(path, m.reg)
}

// Backup records one backup's outcome.
func (m *Metrics) Backup(source, typ string, start, end time.Time, logical, stored int64, err error) {
	m.BackupLastAttempt.WithLabelValues(source, typ).Set(float64(end.Unix()))
	m.BackupDuration.WithLabelValues(source, typ).Set(end.Sub(start).Seconds())

	if err != nil {
		m.BackupFailures.WithLabelValues(source, typ).Inc()
		return
	}

	m.BackupFailures.WithLabelValues(source, typ).Add(0)
	m.BackupLastSuccess.WithLabelValues(source, typ).Set(float64(end.Unix()))
	m.BackupLogical.WithLabelValues(source, typ).Set(float64(logical))
	m.BackupStored.WithLabelValues(source, typ).Set(float64(max(stored, 0)))
}
