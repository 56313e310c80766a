package repo

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kopia/kopia/repo/blob/throttling"

	"lifeboat/internal/testenv"
)

// switchHours is business hours the test turns on and off.
type switchHours struct{ on atomic.Bool }

func (h *switchHours) Contains(time.Time) bool { return h.on.Load() }
func (h *switchHours) String() string          { return "test hours" }

// TestUploadLimitFollowsHours: an S3 repository opened inside its upload
// hours is capped; while it stays open the cap ends when the hours end and
// comes back when they start again.
func TestUploadLimitFollowsHours(t *testing.T) {
	defer func(d time.Duration) { uploadHoursTick = d }(uploadHoursTick)
	uploadHoursTick = 20 * time.Millisecond

	hours := &switchHours{}
	hours.on.Store(true)

	ctx := context.Background()
	where := newS3Repo(t, func(o *S3) { o.UploadBytesPerSecond, o.UploadHours = 2e6, hours })

	r, err := OpenAt(ctx, where, testPW, nil)
	if err != nil {
		t.Fatal(err)
	}

	th := r.rep.(interface {
		Throttler() throttling.SettableThrottler
	}).Throttler()

	waitFor := func(want float64) {
		t.Helper()

		testenv.EventuallyNoError(t, 10*time.Second, func() error {
			if got := th.Limits().UploadBytesPerSecond; got != want {
				return fmt.Errorf("upload limit %v", got)
			}

			return nil
		}, fmt.Sprintf("the upload limit to become %v", want))
	}

	waitFor(2e6)
	hours.on.Store(false)
	waitFor(0)
	hours.on.Store(true)
	waitFor(2e6)

	r.Close(ctx)

	// Opened outside its hours, it starts uncapped.
	hours.on.Store(false)

	r, err = OpenAt(ctx, where, testPW, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)

	th = r.rep.(interface {
		Throttler() throttling.SettableThrottler
	}).Throttler()
	if got := th.Limits().UploadBytesPerSecond; got != 0 {
		t.Fatalf("opened outside its hours with an upload limit of %v", got)
	}
}
