package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/signal"
	"sort"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/internal/binlog"
	"lifeboat/internal/config"
	"lifeboat/internal/progress"
	"lifeboat/internal/source"
	"lifeboat/internal/sources"
)

func (a *App) binlogCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "binlog",
		Short: "Archive database binary logs continuously, and list the archive",
		Example: "  lifeboat binlog stream shop-db\n" +
			"  lifeboat binlog list shop-db",
	}

	cmd.AddCommand(a.binlogStreamCommand(), a.binlogListCommand(), a.audited("binlog compact", a.binlogCompactCommand()))

	return cmd
}

func (a *App) binlogStreamCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "stream [SOURCE...]",
		Short: "Archive the binlog of database sources as it is written, until stopped (SIGINT/SIGTERM)",
		Long: "Connects to each database source as a replica and stores its binary log in the repository\n" +
			"in segments closed every binlog.segment_interval, so any instant since the first full backup\n" +
			"can be restored with `lifeboat restore SOURCE --to-time T`. It resumes where the archive\n" +
			"ends; if the server no longer has that binlog, it records the gap and takes a full backup.",
		Example: "  lifeboat binlog stream\n" +
			"  lifeboat binlog stream shop-db",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, r, err := a.openRepo(cmd.Context())
			if err != nil {
				return err
			}
			defer r.Close(context.Background())

			names, err := databaseSources(cfg, args)
			if err != nil {
				return err
			}

			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()

			var (
				wg   sync.WaitGroup
				mu   sync.Mutex
				errs []error
			)

			// A streamer writes every few seconds: keep the index small.
			idxCtx, stopIdx := context.WithCancel(ctx)

			var idx sync.WaitGroup

			defer idx.Wait()
			defer stopIdx()

			// Through a rekey's switch: every write checks, and a
			// restart opens the new repository.
			r.GuardRekey()

			follow := a.followRekey(idxCtx, cfg, r, &idx)
			defer follow.close()

			for _, name := range names {
				s, err := a.source(cfg, name)
				if err != nil {
					return err
				}

				arch := s.(source.Archiving).Archiver(r, a.log, toolVersion())
				arch.Reopen = follow.current
				arch.Stored = func(seg *binlog.Segment) {
					a.log.Info("binlog segment stored", "source", name, "file", seg.File, "start", seg.Start, "end", seg.End, "events", seg.Events,
						"gtids", seg.GTIDFirst+".."+seg.GTIDLast, "first_event", seg.First.Format(time.RFC3339Nano), "last_event", seg.Last.Format(time.RFC3339Nano),
						"durable_at", a.clock().Now().UTC().Format(time.RFC3339Nano))
				}

				fmt.Fprintf(a.Stdout, "streaming the binlog of %s into %s (segments every %s; stop with Ctrl-C)\n", name, r.Path(), cfg.Sources[name].MySQL.Binlog.Interval())

				wg.Add(1)

				go func() {
					defer wg.Done()

					if err := arch.Stream(ctx); err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
						stop()
					}
				}()
			}

			wg.Wait()
			stopIdx()
			idx.Wait()

			if err := errors.Join(errs...); err != nil {
				return err
			}

			fmt.Fprintln(a.Stdout, "stopped; every segment received is stored")

			return nil
		},
	}
}

// databaseSources resolves the named sources (all database sources if none),
// refusing any that is not a database.
func databaseSources(cfg *config.Config, args []string) ([]string, error) {
	if len(args) == 0 {
		for name, sc := range cfg.Sources {
			if archiving(sc) {
				args = append(args, name)
			}
		}

		sort.Strings(args)

		if len(args) == 0 {
			return nil, usage("no database sources in %s: binlog archiving needs a `type: mysql` source", cfg.File)
		}
	}

	for _, name := range args {
		sc, ok := cfg.Sources[name]
		if !ok {
			return nil, usage("unknown source %q: the configured sources are listed by `lifeboat config check`", name)
		}

		if !archiving(sc) {
			return nil, usage("source %s is a %s source: binlog archiving is for database (type: mysql) sources", name, sc.Type)
		}
	}

	return args, nil
}

func (a *App) binlogListCommand() *cobra.Command {
	var asJSON bool

	cmd := &cobra.Command{
		Use:   "list SOURCE",
		Short: "List the archived binlog segments and gaps of a database source",
		Args:  cobra.ExactArgs(1),
		Example: "  lifeboat binlog list shop-db\n" +
			"  lifeboat binlog list shop-db --json",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, r, err := a.openRepo(cmd.Context())
			if err != nil {
				return err
			}
			defer r.Close(cmd.Context())

			if _, err := databaseSources(cfg, args); err != nil {
				return err
			}

			arch, err := binlog.Load(cmd.Context(), r, args[0])
			if err != nil {
				return err
			}

			if asJSON {
				type seg struct {
					ID        string    `json:"id"`
					Chain     string    `json:"chain"`
					File      string    `json:"file"`
					Start     uint32    `json:"start"`
					End       uint32    `json:"end"`
					Next      string    `json:"next,omitempty"`
					First     time.Time `json:"first"`
					Last      time.Time `json:"last"`
					GTIDFirst string    `json:"gtid_first,omitempty"`
					GTIDLast  string    `json:"gtid_last,omitempty"`
					Events    int       `json:"events"`
					Bytes     int64     `json:"bytes"`
					SHA256    string    `json:"sha256"`
					By        string    `json:"by"`
					Stored    time.Time `json:"stored"`
				}

				out := struct {
					Archive  binlog.Stats  `json:"archive"`
					Segments []seg         `json:"segments"`
					Gaps     []*binlog.Gap `json:"gaps"`
					Covered  time.Time     `json:"covered"`
				}{Archive: arch.Stats(), Segments: []seg{}, Gaps: arch.Gaps, Covered: arch.Covered}

				for _, s := range arch.Segments {
					out.Segments = append(out.Segments, seg{s.ID, s.Epoch, s.File, s.Start, s.End, s.Next, s.First, s.Last, s.GTIDFirst, s.GTIDLast, s.Events, s.BinlogBytes, s.SHA256, s.By, s.Stored})
				}

				if out.Gaps == nil {
					out.Gaps = []*binlog.Gap{}
				}

				enc := json.NewEncoder(a.Stdout)
				enc.SetIndent("", "  ")

				return enc.Encode(out)
			}

			// One write per buffer, not per cell: a year of archive is a
			// thousand lines, 15,000 writes unbuffered.
			bw := bufio.NewWriter(a.Stdout)

			tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "FILE\tSTART\tEND\tEVENTS\tSIZE\tFIRST EVENT\tLAST EVENT\tGTIDS\tBY")

			for _, s := range arch.Segments {
				if s.Events == 0 {
					continue
				}

				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s..%s\t%s\n", s.File, s.Start, s.End, s.Events, progress.Bytes(s.BinlogBytes),
					s.First.Local().Format("2006-01-02 15:04:05.000"), s.Last.Local().Format("15:04:05.000"), s.GTIDFirst, s.GTIDLast, s.By)
			}

			tw.Flush()

			for _, g := range arch.Gaps {
				fmt.Fprintf(bw, "GAP from %s to %s: %s\n", g.From.Local().Format(time.DateTime), g.At.Local().Format(time.DateTime), g.Reason)
			}

			if !arch.Covered.IsZero() {
				fmt.Fprintf(bw, "the streamer last confirmed the archive complete at %s\n", arch.Covered.Local().Format("2006-01-02 15:04:05.000"))
			}

			st := arch.Stats()
			fmt.Fprintf(bw, "archive of %s: %s of binlog in %s (%s stored)\n", args[0], progress.Bytes(st.Bytes),
				plural(st.Segments, "segment", "segments"), plural(st.Stored, "piece", "pieces"))

			_ = bw.Flush() // as unchecked as the writes were unbuffered

			return nil
		},
	}

	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	return cmd
}

// archiving reports whether the source sc configures keeps an archive of
// its changes between backups (a database's binlog).
func archiving(sc *config.Source) bool {
	src, ok := sources.New(sc, nil)
	if !ok {
		return false
	}

	_, ok = src.(source.Archiving)

	return ok
}
