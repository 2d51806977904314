package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/ingest"
)

// Limits of the importer, named with their unit last.
const (
	importLineMaxBytes     = 64 << 10
	importRejectsShownMax  = 20
	importProgressInterval = 2 * time.Second
)

type eventsCmd struct {
	Import eventsImportCmd `cmd:"" help:"Backfill usage events from an NDJSON or CSV file."`
}

type eventsImportCmd struct {
	storeFlags
	File   string `arg:"" type:"existingfile" help:"NDJSON (one CloudEvent per line) or CSV with columns id, source, type, subject, time, data."`
	Format string `enum:"auto,ndjson,csv" default:"auto" help:"File format; auto chooses by the file's extension (.csv is CSV)."`
	Batch  int    `default:"1000" help:"Events per transaction (1 to 1000)."`
}

// importCheckpoint is written beside the file after every committed batch, so that an
// interrupted import resumes where it stopped. Resuming from the start is safe too (the
// events are deduplicated); the checkpoint only saves the time.
type importCheckpoint struct {
	File       string `json:"file"`
	Size       int64  `json:"size"`
	ModTime    int64  `json:"mod_time_unix_nano"`
	Offset     int64  `json:"offset"`
	Line       int    `json:"line"`    // the last line read
	Records    int    `json:"records"` // events read, blank lines not counted
	Accepted   int    `json:"accepted"`
	Duplicates int    `json:"duplicates"`
	Rejected   int    `json:"rejected"`
}

func (c *eventsImportCmd) Run(env *runEnv) error {
	if c.Batch < 1 || c.Batch > billow.EventBatchMax {
		return fmt.Errorf("--batch must be 1 to %d", billow.EventBatchMax)
	}
	f, err := os.Open(c.File)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	checkpointPath := c.File + ".billow-import"
	state := importCheckpoint{File: filepath.Base(c.File), Size: info.Size(), ModTime: info.ModTime().UnixNano()}
	if prev, err := readCheckpoint(checkpointPath); err == nil && prev.Size == state.Size && prev.ModTime == state.ModTime {
		state = prev
		fmt.Fprintf(env.stdout, "resuming at line %d (byte %d of %d)\n", state.Line+1, state.Offset, state.Size)
	}
	if _, err := f.Seek(state.Offset, io.SeekStart); err != nil {
		return err
	}

	db, err := openStore(env, c.storeFlags)
	if err != nil {
		return err
	}
	defer db.Close()
	svc := ingest.New(db, billow.SystemClock{})
	operator := billow.Principal{KeyID: "cli-import"}

	format := c.Format
	if format == "auto" {
		format = "ndjson"
		if strings.EqualFold(filepath.Ext(c.File), ".csv") {
			format = "csv"
		}
	}
	next, err := eventReader(format, f, state.Offset, state.Line, state.Records)
	if err != nil {
		return err
	}
	shown := 0
	lastProgress := time.Now()
	for done := false; !done; {
		var batch []ingest.CloudEvent
		var lines []int
		var end int64
		for len(batch) < c.Batch {
			e, line, offset, err := next()
			if errors.Is(err, io.EOF) {
				done = true
				break
			}
			if err != nil {
				return fmt.Errorf("%s: %w", c.File, err)
			}
			batch, lines, end = append(batch, e), append(lines, line), offset
		}
		if len(batch) == 0 {
			break
		}
		// A signal stops the import between batches, never inside one: the batch in hand
		// commits, the checkpoint says so, and the next run resumes after it.
		res, err := svc.Ingest(context.WithoutCancel(env.ctx), operator, batch)
		if err != nil {
			return fmt.Errorf("line %d: %w", lines[0], err)
		}
		state.Accepted += res.Accepted
		state.Duplicates += res.Duplicates
		state.Rejected += len(res.Rejected)
		for _, r := range res.Rejected {
			if shown < importRejectsShownMax {
				fmt.Fprintf(env.stdout, "line %d: %s: %s\n", lines[r.Index], r.Code, r.Detail)
			}
			shown++
		}
		state.Offset, state.Line, state.Records = end, lines[len(lines)-1], state.Records+len(batch)
		if err := writeCheckpoint(checkpointPath, state); err != nil {
			return err
		}
		if time.Since(lastProgress) >= importProgressInterval || done {
			lastProgress = time.Now()
			fmt.Fprintf(env.stdout, "progress: %5.1f%%  line %d  accepted %d  duplicates %d  rejected %d\n",
				100*float64(state.Offset)/float64(max(state.Size, 1)), state.Line, state.Accepted, state.Duplicates, state.Rejected)
		}
		if env.ctx.Err() != nil {
			fmt.Fprintf(env.stdout, "interrupted after line %d; run the same command to resume\n", state.Line)
			return env.ctx.Err()
		}
	}
	if shown > importRejectsShownMax {
		fmt.Fprintf(env.stdout, "… and %d more rejected events\n", shown-importRejectsShownMax)
	}
	fmt.Fprintf(env.stdout, "imported %s: %d accepted, %d duplicates, %d rejected\n", c.File, state.Accepted, state.Duplicates, state.Rejected)
	return os.Remove(checkpointPath)
}

// eventReader returns a function that reads the next event with its line and the byte
// offset just after it.
func eventReader(format string, f io.ReadSeeker, offset int64, line, records int) (func() (ingest.CloudEvent, int, int64, error), error) {
	if format == "csv" {
		// CSV resumes by skipping the records already read: a record may span lines, so a
		// byte offset into the file is no place to start a CSV reader.
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		cr, err := ingest.NewCSVReader(f)
		if err != nil {
			return nil, err
		}
		for range records {
			if _, _, _, err := cr.Read(); err != nil {
				return nil, fmt.Errorf("resume: record %d: %w", records, err)
			}
		}
		return func() (ingest.CloudEvent, int, int64, error) {
			return cr.Read()
		}, nil
	}
	r := bufio.NewReaderSize(f, importLineMaxBytes)
	return func() (ingest.CloudEvent, int, int64, error) {
		for {
			raw, err := r.ReadSlice('\n')
			if errors.Is(err, bufio.ErrBufferFull) {
				return ingest.CloudEvent{}, 0, 0, fmt.Errorf("line %d is longer than %d bytes", line+1, importLineMaxBytes)
			}
			if err != nil && (!errors.Is(err, io.EOF) || len(raw) == 0) {
				return ingest.CloudEvent{}, 0, 0, err
			}
			offset += int64(len(raw))
			line++
			if len(bytes.TrimSpace(raw)) == 0 {
				continue
			}
			var e ingest.CloudEvent
			if err := json.Unmarshal(raw, &e); err != nil {
				return e, 0, 0, fmt.Errorf("line %d: %w", line, err)
			}
			return e, line, offset, nil
		}
	}, nil
}

func readCheckpoint(path string) (importCheckpoint, error) {
	var c importCheckpoint
	data, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	return c, json.Unmarshal(data, &c)
}

// writeCheckpoint replaces the checkpoint atomically: a crash leaves the old or the new one.
func writeCheckpoint(path string, c importCheckpoint) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
