//! Values addressed by small numbers (slots) that stay put while others come and go.
//!
//! The sublist stores a subscription as its connection and its slot, so a match leads
//! straight to the subscription without a lookup by name; freed slots are reused so the
//! table stays as small as the most it ever held at once.

/// A table of values by slot.
#[derive(Debug)]
pub struct Slots<T> {
    items: Vec<Option<T>>,
    free: Vec<u32>,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots {
            items: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Slots<T> {
    /// Stores `value`; its slot.
    pub fn insert(&mut self, value: T) -> u32 {
        match self.free.pop() {
            Some(slot) => {
                self.items[slot as usize] = Some(value);
                slot
            }
            None => {
                self.items.push(Some(value));
                (self.items.len() - 1) as u32
            }
        }
    }

    pub fn remove(&mut self, slot: u32) -> Option<T> {
        let value = self.items.get_mut(slot as usize)?.take()?;
        self.free.push(slot);
        Some(value)
    }

    pub fn get(&self, slot: u32) -> Option<&T> {
        self.items.get(slot as usize)?.as_ref()
    }

    pub fn get_mut(&mut self, slot: u32) -> Option<&mut T> {
        self.items.get_mut(slot as usize)?.as_mut()
    }

    /// The values with their slots, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &T)> {
        self.items
            .iter()
            .enumerate()
            .filter_map(|(slot, v)| Some((slot as u32, v.as_ref()?)))
    }

    /// Every value with its slot, emptying the table.
    pub fn drain(&mut self) -> Vec<(u32, T)> {
        self.free.clear();
        std::mem::take(&mut self.items)
            .into_iter()
            .enumerate()
            .filter_map(|(slot, v)| Some((slot as u32, v?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_stable_and_reused() {
        let mut s = Slots::default();
        let (a, b, c) = (s.insert('a'), s.insert('b'), s.insert('c'));
        assert_eq!((a, b, c), (0, 1, 2));
        assert_eq!(s.remove(b), Some('b'));
        assert_eq!(s.remove(b), None);
        assert_eq!(s.get(c), Some(&'c'));
        assert_eq!(s.insert('d'), 1);
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            [(0, &'a'), (1, &'d'), (2, &'c')]
        );
        assert_eq!(s.drain().len(), 3);
        assert_eq!(s.insert('e'), 0);
    }
}
