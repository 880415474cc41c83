//! Door contacts and buttons read as discrete inputs: what a reply holds and what changed
//! since the last one. Pure, so the bus actor and the Modbus-reply fuzz target share it.

/// The channels a discrete-input reply holds. Bits come in whole bytes, so a reply carries
/// padding bits after the channels asked for (they are dropped); fewer is a bad reply.
pub fn channels_in_reply(mut bits: Vec<bool>, channels: u16) -> Result<Vec<bool>, String> {
    let wanted = usize::from(channels);
    if bits.len() < wanted {
        return Err(format!("{} inputs in the reply, expected {channels}", bits.len()));
    }
    bits.truncate(wanted);
    Ok(bits)
}

/// The channels (numbered from 1) whose state differs from `before`; every channel when
/// there is no earlier reading.
pub fn changed(before: Option<&[bool]>, now: &[bool]) -> Vec<(u16, bool)> {
    now.iter()
        .enumerate()
        .filter(|(i, on)| before.is_none_or(|b| b.get(*i) != Some(*on)))
        .map(|(i, on)| (u16::try_from(i + 1).unwrap_or(u16::MAX), *on))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_bits_after_the_channels_are_dropped() {
        let mut bits = vec![true, false, true];
        bits.extend([false; 5]);
        assert_eq!(channels_in_reply(bits, 3), Ok(vec![true, false, true]));
    }

    #[test]
    fn a_reply_with_fewer_inputs_than_asked_is_refused() {
        assert!(channels_in_reply(vec![true; 2], 3).unwrap_err().contains("2 inputs in the reply, expected 3"));
    }

    #[test]
    fn only_the_channels_that_changed_are_reported() {
        assert_eq!(changed(Some(&[true, false]), &[true, true]), vec![(2, true)]);
        assert_eq!(changed(None, &[false, true]), vec![(1, false), (2, true)]);
    }
}
