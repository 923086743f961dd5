package schema

import (
	"context"
	"strings"
)

// Compatibility is a compatibility level: which earlier versions of a
// subject a new schema is checked against, and in which direction.
type Compatibility string

// The compatibility levels. BACKWARD: a reader on the new schema reads data
// written with the latest (Format.Compatible(new, latest)); FORWARD: a reader
// on the latest reads data written with the new; FULL: both. The
// _TRANSITIVE levels check every live version instead of the latest.
const (
	None               Compatibility = "NONE"
	Backward           Compatibility = "BACKWARD"
	BackwardTransitive Compatibility = "BACKWARD_TRANSITIVE"
	Forward            Compatibility = "FORWARD"
	ForwardTransitive  Compatibility = "FORWARD_TRANSITIVE"
	Full               Compatibility = "FULL"
	FullTransitive     Compatibility = "FULL_TRANSITIVE"
)

// DefaultCompatibility applies when neither the subject nor the registry
// has a level set.
const DefaultCompatibility = Backward

// ParseCompatibility reads a level, in any case; an unknown one is a 42203.
func ParseCompatibility(s string) (Compatibility, error) {
	c := Compatibility(strings.ToUpper(strings.TrimSpace(s)))
	switch c {
	case None, Backward, BackwardTransitive, Forward, ForwardTransitive, Full, FullTransitive:
		return c, nil
	}
	return "", newError(CodeInvalidCompatibilityLevel, "Invalid compatibility level. Valid values are none, backward, "+
		"forward, full, backward_transitive, forward_transitive, and full_transitive")
}

func (c Compatibility) backward() bool {
	return c == Backward || c == BackwardTransitive || c == Full || c == FullTransitive
}

func (c Compatibility) forward() bool {
	return c == Forward || c == ForwardTransitive || c == Full || c == FullTransitive
}

func (c Compatibility) transitive() bool {
	return c == BackwardTransitive || c == ForwardTransitive || c == FullTransitive
}

// Mode says which writes a subject (or the registry) accepts.
type Mode string

// The modes. READONLY refuses registrations and deletions (42205); IMPORT
// accepts only registrations that name their id (and version), copying
// another registry, and checks no compatibility.
const (
	ReadWrite Mode = "READWRITE"
	ReadOnly  Mode = "READONLY"
	Import    Mode = "IMPORT"
)

// DefaultMode applies when neither the subject nor the registry has a mode.
const DefaultMode = ReadWrite

// ParseMode reads a mode, in any case; an unknown one is a 42204.
func ParseMode(s string) (Mode, error) {
	m := Mode(strings.ToUpper(strings.TrimSpace(s)))
	switch m {
	case ReadWrite, ReadOnly, Import:
		return m, nil
	}
	return "", newError(CodeInvalidMode, "Invalid mode. Valid values are READWRITE, READONLY, and IMPORT.")
}

// Config returns the compatibility level of subject ("" for the
// registry-wide one, which is BACKWARD unless set). A subject without a
// level of its own gets the global level with defaultToGlobal, and a 40408
// without.
func (r *Registry) Config(subject string, defaultToGlobal bool) (Compatibility, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if subject == "" {
		return r.mu.st.globalCompatibility(), nil
	}
	if c, ok := r.mu.st.config[subject]; ok {
		return c, nil
	}
	if defaultToGlobal {
		return r.mu.st.globalCompatibility(), nil
	}
	return "", newError(CodeSubjectCompatibilityNotSet, "Subject '%s' does not have subject-level compatibility configured", subject)
}

// SetConfig sets the compatibility level of subject ("" for the global
// one) and returns once the change is applied here.
func (r *Registry) SetConfig(ctx context.Context, subject string, level Compatibility) error {
	level, err := ParseCompatibility(string(level))
	if err != nil {
		return err
	}
	if err := r.lockWrites(ctx); err != nil {
		return err
	}
	defer r.unlockWrites()
	return r.produce(ctx, "setting a compatibility level", settingRecord(kindConfig, subject, settingValue{Compatibility: level}))
}

// DeleteConfig removes the level of subject, which then follows the global
// one, and returns the level it had (40401 if it had none of its own). For
// subject "" it resets the global level to BACKWARD.
func (r *Registry) DeleteConfig(ctx context.Context, subject string) (Compatibility, error) {
	if err := r.lockWrites(ctx); err != nil {
		return "", err
	}
	defer r.unlockWrites()
	old, err := r.Config(subject, false)
	if err != nil {
		return "", errSubjectNotFound(subject)
	}
	return old, r.produce(ctx, "deleting a compatibility level", settingRecord(kindConfig, subject, settingValue{}))
}

// Mode returns the mode of subject ("" for the registry's, READWRITE unless
// set). A subject without its own gets the global mode with
// defaultToGlobal, and a 40409 without.
func (r *Registry) Mode(subject string, defaultToGlobal bool) (Mode, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if subject == "" {
		return r.mu.st.globalMode(), nil
	}
	if m, ok := r.mu.st.mode[subject]; ok {
		return m, nil
	}
	if defaultToGlobal {
		return r.mu.st.globalMode(), nil
	}
	return "", newError(CodeSubjectModeNotSet, "Subject '%s' does not have subject-level mode configured", subject)
}

// SetMode sets the mode of subject ("" for the global one). Entering
// IMPORT where live schemas exist (any subject for the global mode) is
// refused with 42205 unless force is set, as Confluent does: imported ids
// could collide with them.
func (r *Registry) SetMode(ctx context.Context, subject string, mode Mode, force bool) error {
	mode, err := ParseMode(string(mode))
	if err != nil {
		return err
	}
	if err := r.lockWrites(ctx); err != nil {
		return err
	}
	defer r.unlockWrites()
	if mode == Import && !force {
		r.mu.RLock()
		current := r.mu.st.modeInScope(subject)
		occupied := false
		for name, sub := range r.mu.st.subjects {
			if (subject == "" || name == subject) && sub.live() > 0 {
				occupied = true
				break
			}
		}
		r.mu.RUnlock()
		if current != Import && occupied {
			return newError(CodeOperationNotPermitted, "Cannot import since found existing subjects")
		}
	}
	return r.produce(ctx, "setting a mode", settingRecord(kindMode, subject, settingValue{Mode: mode}))
}

// DeleteMode removes the mode of subject, which then follows the global
// one, and returns the mode it had (40401 if it had none of its own). For
// subject "" it resets the global mode to READWRITE.
func (r *Registry) DeleteMode(ctx context.Context, subject string) (Mode, error) {
	if err := r.lockWrites(ctx); err != nil {
		return "", err
	}
	defer r.unlockWrites()
	old, err := r.Mode(subject, false)
	if err != nil {
		return "", errSubjectNotFound(subject)
	}
	return old, r.produce(ctx, "deleting a mode", settingRecord(kindMode, subject, settingValue{}))
}
