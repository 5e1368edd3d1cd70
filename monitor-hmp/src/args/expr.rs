//! The monitor's integer expressions (QEMU's `get_expr`): `+ -` below
//! `& | ^` below `* / %`, all left-associative; unary `+ - ~`;
//! parentheses; numbers as C's `strtoull` with base 0 (`0x1f`, `017`,
//! `42`); character constants `'a'`; registers `$pc`. Arithmetic wraps at
//! 64 bits, as it does in QEMU (whose `INT64_MIN / -1` crashes it instead).
//!
//! QEMU evaluates by recursive descent; this is the same grammar on an
//! explicit stack, so that a line of ten thousand `(` cannot overflow ours.
//! Errors come out in the same order as QEMU's.

use super::error::ArgErrorKind;
use super::lex::{at, char_at, skip_space, strtoull, MAX_REGISTER};
use super::Registers;

#[derive(Debug, Clone, Copy)]
enum Pending {
    /// `(`.
    Paren,
    /// A unary `+`, `-` or `~`.
    Unary(u8),
    /// A binary operator and its left operand.
    Binary(u8, i64),
}

fn precedence(op: u8) -> Option<u8> {
    match op {
        b'+' | b'-' => Some(1),
        b'&' | b'|' | b'^' => Some(2),
        b'*' | b'/' | b'%' => Some(3),
        _ => None,
    }
}

fn apply(op: u8, a: i64, b: i64) -> Result<i64, ArgErrorKind> {
    Ok(match op {
        b'+' => a.wrapping_add(b),
        b'-' => a.wrapping_sub(b),
        b'&' => a & b,
        b'|' => a | b,
        b'^' => a ^ b,
        b'*' => a.wrapping_mul(b),
        b'/' | b'%' if b == 0 => return Err(ArgErrorKind::DivisionByZero),
        b'/' => a.wrapping_div(b),
        _ => a.wrapping_rem(b),
    })
}

/// Evaluates the expression starting at byte `start` of `line`. Returns
/// the value and the index after it (white space after the last operand is
/// consumed), or the error and where it was found.
pub(crate) fn eval(
    line: &str,
    start: usize,
    regs: &dyn Registers,
) -> Result<(i64, usize), (ArgErrorKind, usize)> {
    let s = line.as_bytes();
    let mut pos = skip_space(s, start);
    let mut stack: Vec<Pending> = Vec::new();
    loop {
        // An operand, after any number of unary operators and parentheses.
        let mut value = loop {
            match at(s, pos) {
                op @ (b'+' | b'-' | b'~') => {
                    stack.push(Pending::Unary(op));
                    pos = skip_space(s, pos + 1);
                }
                b'(' => {
                    stack.push(Pending::Paren);
                    pos = skip_space(s, pos + 1);
                }
                b'\'' => {
                    let c = at(s, pos + 1);
                    if c == 0 {
                        return Err((ArgErrorKind::CharConstantExpected, pos + 1));
                    }
                    if at(s, pos + 2) != b'\'' {
                        return Err((ArgErrorKind::MissingQuote, pos + 2));
                    }
                    pos = skip_space(s, pos + 3);
                    // C's `char` is signed on x86, but only ASCII gets here.
                    break i64::from(c);
                }
                b'$' => {
                    let name_start = pos + 1;
                    let mut end = name_start;
                    while at(s, end).is_ascii_alphanumeric() || matches!(at(s, end), b'_' | b'.') {
                        end += 1;
                    }
                    let name = &line[name_start..end.min(name_start + MAX_REGISTER)];
                    match regs.register(name) {
                        Some(v) => {
                            pos = skip_space(s, end);
                            break v;
                        }
                        None => return Err((ArgErrorKind::UnknownRegister(name.to_owned()), pos)),
                    }
                }
                0 => return Err((ArgErrorKind::UnexpectedEnd, pos)),
                _ => match strtoull(s, pos, 0) {
                    Some(n) if n.overflow => return Err((ArgErrorKind::NumberTooLarge, pos)),
                    Some(n) => {
                        pos = skip_space(s, n.end);
                        // The bits of an unsigned literal, as C's cast.
                        break n.value as i64;
                    }
                    None => return Err((ArgErrorKind::InvalidChar(char_at(line, pos)), pos)),
                },
            }
        };
        // Apply the unary operators written before the operand; then
        // reduce, closing parentheses, until an operator continues the
        // expression or something else ends it.
        loop {
            while let Some(&Pending::Unary(op)) = stack.last() {
                stack.pop();
                value = match op {
                    b'-' => value.wrapping_neg(),
                    b'~' => !value,
                    _ => value,
                };
            }
            let next = at(s, pos);
            if let Some(prec) = precedence(next) {
                while let Some(&Pending::Binary(op, left)) = stack.last() {
                    if precedence(op).is_some_and(|p| p >= prec) {
                        stack.pop();
                        value = apply(op, left, value).map_err(|e| (e, pos))?;
                    } else {
                        break;
                    }
                }
                stack.push(Pending::Binary(next, value));
                pos = skip_space(s, pos + 1);
                break;
            }
            while let Some(&Pending::Binary(op, left)) = stack.last() {
                stack.pop();
                value = apply(op, left, value).map_err(|e| (e, pos))?;
            }
            match stack.pop() {
                None => return Ok((value, pos)),
                Some(Pending::Paren) if next == b')' => pos = skip_space(s, pos + 1),
                Some(_) => return Err((ArgErrorKind::CloseParenExpected, pos)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::NoCpu;

    fn regs(name: &str) -> Option<i64> {
        match name {
            "pc" => Some(0x1000),
            "eax" => Some(-1),
            _ => None,
        }
    }

    #[test]
    fn values_match_qemu() {
        let cases: &[(&str, i64, usize)] = &[
            ("1", 1, 1),
            ("0x10 + 3 * 2", 22, 12),
            ("~0", -1, 2),
            ("'a'", 97, 3),
            ("'''", 39, 3),
            ("' '", 32, 3),
            ("1 & 3 | 4 ^ 1", 4, 13),
            ("10 % -3", 1, 7),
            ("-10 % 3", -1, 7),
            ("0x8000000000000000 * 2", 0, 22),
            ("18446744073709551615", -1, 20),
            ("9223372036854775808", i64::MIN, 19),
            ("- -5", 5, 4),
            ("+-5", -5, 3),
            ("~~5", 5, 3),
            ("1 * -2", -2, 6),
            ("017", 15, 3),
            ("0X1F", 31, 4),
            ("08", 0, 1),
            ("1 2", 1, 2),
            ("(1))", 1, 3),
            ("1 ~ 2", 1, 2),
            ("((((1+2)*3)))", 9, 13),
            ("2*(3+4)-1", 13, 9),
            ("1-2-3", -4, 5),
            ("100/10/5", 2, 8),
            ("1+2*3&7", 7, 7),
            ("$pc + 1", 0x1001, 7),
            ("$eax", -1, 4),
            ("-9223372036854775808 / -1", i64::MIN, 25),
            ("  7  x", 7, 5),
        ];
        for &(input, want, end) in cases {
            assert_eq!(eval(input, 0, &regs), Ok((want, end)), "{input:?}");
        }
    }

    #[test]
    fn errors_match_qemu() {
        use ArgErrorKind::*;
        let cases: &[(&str, ArgErrorKind)] = &[
            ("", UnexpectedEnd),
            ("1 +", UnexpectedEnd),
            ("-", UnexpectedEnd),
            ("(", UnexpectedEnd),
            ("(1+2", CloseParenExpected),
            ("(1 x", CloseParenExpected),
            ("'", CharConstantExpected),
            ("'a", MissingQuote),
            ("''", MissingQuote),
            ("'ab'", MissingQuote),
            ("'é'", MissingQuote),
            ("$foo", UnknownRegister("foo".into())),
            ("$", UnknownRegister(String::new())),
            ("$pc.a_b", UnknownRegister("pc.a_b".into())),
            ("zz", InvalidChar('z')),
            (")", InvalidChar(')')),
            ("é", InvalidChar('é')),
            ("1 + x", InvalidChar('x')),
            ("99999999999999999999999", NumberTooLarge),
            ("1/0", DivisionByZero),
            ("1%0", DivisionByZero),
            ("1/0 + $foo", DivisionByZero),
            ("1/(2-2)", DivisionByZero),
            ("(1/0", DivisionByZero),
        ];
        for (input, want) in cases {
            assert_eq!(
                eval(input, 0, &regs).map_err(|e| e.0),
                Err(want.clone()),
                "{input:?}"
            );
        }
    }

    #[test]
    fn no_cpu_means_unknown_register() {
        assert_eq!(
            eval("$pc", 0, &NoCpu).map_err(|e| e.0),
            Err(ArgErrorKind::UnknownRegister("pc".into()))
        );
    }

    #[test]
    fn deep_nesting_does_not_overflow_the_stack() {
        let deep = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
        assert_eq!(eval(&deep, 0, &NoCpu), Ok((1, deep.len())));
        let unary = format!("{}1", "-".repeat(100_001));
        assert_eq!(eval(&unary, 0, &NoCpu), Ok((-1, unary.len())));
    }

    #[test]
    fn long_register_names_are_cut_like_qemu() {
        let long = "a".repeat(200);
        let seen = std::cell::RefCell::new(String::new());
        let lookup = |name: &str| {
            *seen.borrow_mut() = name.to_owned();
            Some(1)
        };
        assert_eq!(eval(&format!("${long}"), 0, &lookup), Ok((1, 201)));
        assert_eq!(seen.borrow().len(), MAX_REGISTER);
    }
}
