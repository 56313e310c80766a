package mask

import (
	"net"
	"regexp"
	"strings"
	"unicode"
)

// Finding says why a column looks like personal data and which rule would
// mask it.
type Finding struct {
	// Rule is the suggested transformer.
	Rule string
	// Reason is what gave it away: its name, or its sampled values.
	Reason string
}

// nameHints map a word of a column's name to the rule that masks it. A
// name is split into words at underscores and case changes.
var nameHints = []struct {
	words []string
	rule  string
}{
	{[]string{"email", "mail"}, "email"},
	{[]string{"phone", "mobile", "telephone", "tel", "fax", "msisdn"}, "phone"},
	{[]string{"firstname", "forename", "givenname"}, "first_name"},
	{[]string{"lastname", "surname", "familyname"}, "last_name"},
	{[]string{"name", "fullname", "username", "nickname", "login"}, "name"},
	{[]string{"address", "street", "addr", "postcode", "postal", "zip", "zipcode"}, "address"},
	{[]string{"birth", "birthday", "dob", "birthdate"}, "{date_shift: 30d}"},
	{[]string{"ip", "ipaddress", "ipaddr"}, "hash"},
	{[]string{"iban", "bic", "swift", "account", "card", "cc", "pan", "ssn", "passport", "nationalid", "taxid", "vat", "license"}, "hash"},
	{[]string{"note", "notes", "comment", "comments", "bio", "message"}, "text"},
}

// words splits a column name into lower-case words, and adds each pair of
// neighbours joined (first_name -> first, name, firstname).
func words(name string) []string {
	var (
		out []string
		cur []rune
	)

	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.ToLower(string(cur)))
			cur = nil
		}
	}

	prev := rune(0)

	for _, r := range name {
		switch {
		case r == '_' || r == '-' || r == ' ' || r == '.':
			flush()
		case unicode.IsUpper(r) && unicode.IsLower(prev):
			flush()
			cur = append(cur, r)
		case unicode.IsDigit(r):
			flush()
		default:
			cur = append(cur, r)
		}

		prev = r
	}

	flush()

	n := len(out)
	for i := 0; i+1 < n; i++ {
		out = append(out, out[i]+out[i+1])
	}

	return out
}

// ByName says whether a column's name looks like personal data. Keys and
// references (a name ending in id) and number columns that cannot hold a
// name or an address are left out.
func ByName(column, dataType string) (Finding, bool) {
	w := words(column)
	if len(w) == 0 {
		return Finding{}, false
	}

	if last := strings.ToLower(column); strings.HasSuffix(last, "_id") || strings.HasSuffix(last, "id") && len(w) > 1 && w[len(w)-1] == "id" {
		return Finding{}, false
	}

	cl := Column{Type: dataType}.class()

	for _, h := range nameHints {
		for _, word := range w {
			for _, hint := range h.words {
				if word != hint {
					continue
				}

				switch {
				case strings.HasPrefix(h.rule, "{date_shift"):
					if cl != classDate && cl != classDateTime {
						continue
					}
				case h.rule == "phone" || strings.Contains(h.rule, "hash"):
					if cl != classString && cl != classInt && cl != classDecimal && cl != classBinary {
						continue
					}
				default:
					if cl != classString {
						continue
					}
				}

				return Finding{Rule: h.rule, Reason: "its name (" + hint + ")"}, true
			}
		}
	}

	return Finding{}, false
}

var (
	emailValue = regexp.MustCompile(`^[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$`)
	phoneValue = regexp.MustCompile(`^\+?[0-9][0-9 ().-]{5,}[0-9]$`)
	cardValue  = regexp.MustCompile(`^[0-9][0-9 -]{11,21}[0-9]$`)
	dateValue  = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}`)
)

// Luhn reports whether a string of digits (spaces and dashes ignored) of
// card length passes the Luhn check.
func Luhn(s string) bool {
	sum, n := 0, 0

	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c == ' ' || c == '-' {
			continue
		}

		if c < '0' || c > '9' {
			return false
		}

		d := int(c - '0')
		if n%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}

		sum += d
		n++
	}

	return n >= 13 && n <= 19 && sum%10 == 0
}

func digitCount(s string) int {
	n := 0

	for _, c := range s {
		if c >= '0' && c <= '9' {
			n++
		}
	}

	return n
}

// ByValues says whether sampled values of a column look like personal
// data: most of them (at least half of those not empty) are email
// addresses, phone numbers, card numbers passing the Luhn check, or IP
// addresses.
func ByValues(values []string) (Finding, bool) {
	var email, phone, card, ip, n int

	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}

		n++

		switch {
		case emailValue.MatchString(v):
			email++
		case cardValue.MatchString(v) && Luhn(v):
			card++
		case net.ParseIP(v) != nil && strings.ContainsAny(v, ".:"):
			ip++
		case phoneValue.MatchString(v) && digitCount(v) >= 7 && digitCount(v) <= 15 && !dateValue.MatchString(v):
			phone++
		}
	}

	if n == 0 {
		return Finding{}, false
	}

	for _, c := range []struct {
		count        int
		rule, reason string
	}{
		{email, "email", "email addresses"}, {card, "{hash: {format: true}}", "card numbers (Luhn)"},
		{ip, "hash", "IP addresses"}, {phone, "phone", "phone numbers"},
	} {
		if 2*c.count >= n {
			return Finding{Rule: c.rule, Reason: "its values (" + c.reason + ")"}, true
		}
	}

	return Finding{}, false
}
