package password

// SetInSlot makes b run f while a slot is held, before each hash.
func SetInSlot(b *Bound, f func()) { b.inSlot = f }
