// Package payment turns a student's selection into an order, moves the
// order through its one state machine, and applies what the channels say
// (notifications and queries) to bills and to the journal, exactly once.
// The channel adapters implement Channel; this package does not know their
// wire formats.
package payment
