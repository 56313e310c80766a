package mysql

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"lifeboat/internal/binlog"
)

// binlogMagic opens every binlog stream mariadb-binlog reads.
var binlogMagic = []byte{0xfe, 'b', 'i', 'n'}

// replayPiece replays transactions as read, through mariadb-binlog and the
// client in one session, as the serial replay does: the statements a
// parallel replay cannot send as BINLOG statements.
func (s *Source) replayPiece(ctx context.Context, to replayTo, feed func(io.Writer) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var more []string
	if !to.logged {
		more = append(more, "--init-command=SET SESSION sql_log_bin = 0")
	}

	var rewrite []string
	for from, to := range to.rename {
		rewrite = append(rewrite, "--rewrite-db="+from+"->"+to)
	}

	login := to.login
	decode := login.decoder(ctx, rewrite...)
	apply := login.command(ctx, more...)

	var decodeErr, applyErr strings.Builder
	decode.Stderr, apply.Stderr = &decodeErr, &applyErr

	in, err := decode.StdinPipe()
	if err != nil {
		return err
	}

	sqlOut, err := decode.StdoutPipe()
	if err != nil {
		return err
	}

	applyIn, err := apply.StdinPipe()
	if err != nil {
		return err
	}

	if err := decode.Start(); err != nil {
		return fmt.Errorf("start %s: %w", login.binlogTool, err)
	}

	if err := apply.Start(); err != nil {
		cancel()
		decode.Wait() //nolint:errcheck

		return fmt.Errorf("start %s: %w", login.client, err)
	}

	fed := make(chan error, 1)

	go func() {
		_, err := in.Write(binlogMagic)
		if err == nil {
			err = feed(in)
		}

		in.Close()
		fed <- err
	}()

	cleanErr := binlog.CleanSQL(sqlOut, applyIn)
	applyIn.Close()

	if cleanErr != nil {
		cancel()
	}

	feedErr := <-fed
	decodeWait := decode.Wait()
	applyWait := apply.Wait()

	switch {
	case applyWait != nil:
		return fmt.Errorf("%s", login.clean(applyErr.String(), applyWait))
	case decodeWait != nil:
		return fmt.Errorf("%s failed: %v: %s", filepath.Base(login.binlogTool), decodeWait, strings.TrimSpace(decodeErr.String()))
	case feedErr != nil:
		return feedErr
	}

	return cleanErr
}

// writeTxn writes t's events, after its format description when it
// follows another than fde, and returns the one in force.
func writeTxn(w io.Writer, fde []byte, t *ptxn) ([]byte, error) {
	if string(t.fde) != string(fde) {
		if _, err := w.Write(t.fde); err != nil {
			return fde, err
		}
	}

	for _, e := range t.events {
		if _, err := w.Write(e); err != nil {
			return t.fde, err
		}
	}

	return t.fde, nil
}
