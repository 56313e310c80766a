package records

import "time"

// KindKey holds the repository key's records: the last password change
// (KeyPassword), the last recovery kit written (KeyKit, a PasswordChange
// record holding only its time), the last escrow drill (KeyEscrowDrill)
// and the last one that passed (KeyEscrowPassed).
const (
	KindKey         = "key"
	KeyPassword     = "password"
	KeyKit          = "kit"
	KeyEscrowDrill  = "escrow-drill"
	KeyEscrowPassed = "escrow-passed"
)

// PasswordChange is the repository's last password change: a copy last
// replicated before At still opens with the old password.
type PasswordChange struct {
	At time.Time `record:"at"`
}

// EscrowDrill is the last escrow drill: the kit and the escrowed password
// opened the repository on an empty home and restored a source.
type EscrowDrill struct {
	At     time.Time `record:"at"`
	OK     bool      `record:"ok"`
	Source string    `record:"source"`
	// Method is how the password was opened ("2 of 3 shares", "age identity").
	Method   string  `record:"method"`
	Seconds  float64 `record:"seconds,prec=3"`
	Problems string  `record:"problems"`
}
