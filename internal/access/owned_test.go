package access

import (
	"context"
	"errors"
	"testing"
)

// TestOwnTokens: a user's own token is theirs by its owner, not its name;
// it carries their role; demoting them revokes the ones that may do more
// than the new role, and removing them revokes the rest. An admin's
// token is nobody's, whatever its name.
func TestOwnTokens(t *testing.T) {
	g := newRig(t)
	ctx := context.Background()

	if err := g.store.AddUser(ctx, "", "bob", Operator, "bob-password-1"); err != nil {
		t.Fatal(err)
	}

	laptop, err := g.store.CreateOwnToken(ctx, "", "bob", "bob@laptop", 0)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := g.store.CreateToken(ctx, "", "bob@ci", Admin, 0); err != nil {
		t.Fatal(err)
	}

	if _, err := g.store.CreateOwnToken(ctx, "", "nobody", "nobody@x", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a token for a user who does not exist: %v, want ErrNotFound", err)
	}

	owners := func() map[string]string {
		toks, err := g.store.Tokens(ctx)
		if err != nil {
			t.Fatal(err)
		}

		out := map[string]string{}
		for _, tk := range toks {
			out[tk.Name] = tk.Owner + " " + string(tk.Role) + " " + tk.State
		}

		return out
	}

	if got := owners(); got["bob@laptop"] != "bob operator active" || got["bob@ci"] != " admin active" {
		t.Fatalf("the tokens: %v", got)
	}

	// Demoted to viewer: the operator token may do more, and is revoked;
	// the admin's token named bob@ci is not bob's and stays.
	if err := g.store.SetRole(ctx, "", "bob", Viewer); err != nil {
		t.Fatal(err)
	}

	if got := owners(); got["bob@laptop"] != "bob operator revoked" || got["bob@ci"] != " admin active" {
		t.Fatalf("after the demotion: %v", got)
	}

	if _, err := g.store.Token(ctx, laptop); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("the demoted user's operator token: %v, want ErrTokenRevoked", err)
	}

	// A viewer token survives a promotion, and goes with its owner.
	phone, err := g.store.CreateOwnToken(ctx, "", "bob", "bob@phone", 0)
	if err != nil {
		t.Fatal(err)
	}

	if err := g.store.SetRole(ctx, "", "bob", Auditor); err != nil {
		t.Fatal(err)
	}

	if _, err := g.store.Token(ctx, phone); err != nil {
		t.Fatalf("a viewer token after a promotion to auditor: %v", err)
	}

	if err := g.store.RemoveUser(ctx, "", "bob"); err != nil {
		t.Fatal(err)
	}

	if _, err := g.store.Token(ctx, phone); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("a removed user's token: %v, want ErrTokenRevoked", err)
	}

	if got := owners(); got["bob@ci"] != " admin active" {
		t.Fatalf("the admin's token after bob's removal: %v", got)
	}
}
