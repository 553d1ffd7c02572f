//! [`Pen`]: the attributes `vt100` keeps of a cell, as SGR parameters.

/// The attributes of a cell as `vt100` keeps them: bold, dim, italic,
/// underline, inverse, and the foreground and background colours (16, 256
/// or RGB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pen {
    fg: vt100::Color,
    bg: vt100::Color,
    bold: bool,
    dim: bool,
    italic: bool,
    underline: bool,
    inverse: bool,
}

impl Pen {
    /// The attributes of `cell`.
    pub fn of(cell: &vt100::Cell) -> Pen {
        Pen {
            fg: cell.fgcolor(),
            bg: cell.bgcolor(),
            bold: cell.bold(),
            dim: cell.dim(),
            italic: cell.italic(),
            underline: cell.underline(),
            inverse: cell.inverse(),
        }
    }

    /// The SGR parameters that set this pen on top of default attributes
    /// (none for the default pen).
    pub fn params(&self, out: &mut Vec<String>) {
        let flags = [
            (self.bold, 1),
            (self.dim, 2),
            (self.italic, 3),
            (self.underline, 4),
            (self.inverse, 7),
        ];
        out.extend(flags.iter().filter(|f| f.0).map(|f| f.1.to_string()));
        out.extend(colour(self.fg, 30));
        out.extend(colour(self.bg, 40));
    }

    /// The SGR sequence that sets this pen from any attributes.
    pub(crate) fn sgr(&self) -> String {
        let mut params = vec!["0".to_string()];
        self.params(&mut params);
        format!("\x1b[{}m", params.join(";"))
    }
}

/// The SGR parameters of colour `c`, `base` 30 for the foreground and 40
/// for the background.
fn colour(c: vt100::Color, base: u8) -> Option<String> {
    match c {
        vt100::Color::Default => None,
        vt100::Color::Idx(n) if n < 8 => Some(format!("{}", base + n)),
        vt100::Color::Idx(n) if n < 16 => Some(format!("{}", base + 60 + n - 8)),
        vt100::Color::Idx(n) => Some(format!("{};5;{n}", base + 8)),
        vt100::Color::Rgb(r, g, b) => Some(format!("{};2;{r};{g};{b}", base + 8)),
    }
}
