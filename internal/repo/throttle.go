package repo

import (
	"fmt"
	"sync"
	"time"

	"github.com/kopia/kopia/repo/blob/throttling"
)

// Hours is when an upload limit applies, such as business hours.
type Hours interface {
	Contains(t time.Time) bool
	String() string
}

// uploadHoursTick is how often an open repository checks whether its upload
// limit has come into force or ended: the edge of the hours is met within it.
var uploadHoursTick = 30 * time.Second

// uploadLimitAt is the upload cap in force at t (0: none).
func (o *S3) uploadLimitAt(t time.Time) float64 {
	if o.UploadHours != nil && !o.UploadHours.Contains(t) {
		return 0
	}

	return o.UploadBytesPerSecond
}

// followUploadHours turns the upload cap on and off at the edges of its hours
// for as long as the repository is open: a backup or replication that starts
// at night and runs into the morning slows down at 08:00, one that runs past
// 18:00 speeds up.
func (r *Repository) followUploadHours() {
	o := r.where.S3
	if o == nil || o.UploadBytesPerSecond == 0 {
		return
	}

	th, ok := r.rep.(interface {
		Throttler() throttling.SettableThrottler
	})
	if !ok {
		return
	}

	current := th.Throttler().Limits().UploadBytesPerSecond
	r.log.Info("upload limit", "now", rate(current), "limit", rate(o.UploadBytesPerSecond), "hours", hoursText(o.UploadHours))

	if o.UploadHours == nil {
		return
	}

	stop := make(chan struct{})
	done := make(chan struct{})

	var once sync.Once

	r.stopHours = func() {
		once.Do(func() { close(stop) })
		<-done
	}

	go func() {
		defer close(done)

		tick := time.NewTicker(uploadHoursTick)
		defer tick.Stop()

		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}

			want := o.uploadLimitAt(r.now())
			if want == current {
				continue
			}

			l := th.Throttler().Limits()
			l.UploadBytesPerSecond = want

			if err := th.Throttler().SetLimits(l); err != nil {
				r.log.Warn("change the upload limit", "err", err)
				continue
			}

			current = want
			r.log.Info("upload limit changed", "now", rate(want), "hours", hoursText(o.UploadHours))
		}
	}()
}

func hoursText(h Hours) string {
	if h == nil {
		return "always"
	}

	return h.String()
}

func rate(bps float64) string {
	if bps == 0 {
		return "none"
	}

	return fmt.Sprintf("%.3gMB/s", bps/1e6)
}
