// The small part of ncursesw that Swift cannot import as it is: macros, and globals that Swift 6 refuses as
// shared mutable state. Everything else is used directly from <curses.h>.
#ifndef TCHAT_CNCURSES_SHIM_H
#define TCHAT_CNCURSES_SHIM_H

// SwiftPM drops the -D flags of ncursesw.pc, so ask for the wide-character API here, before <curses.h>.
#define NCURSES_WIDECHAR 1
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif

#include <locale.h>
#include <wchar.h>
#include <curses.h>

static inline WINDOW *tchat_stdscr(void) { return stdscr; }
static inline int tchat_lines(void) { return LINES; }
static inline int tchat_cols(void) { return COLS; }
static inline int tchat_colors(void) { return COLORS; }
static inline int tchat_color_pairs(void) { return COLOR_PAIRS; }

static inline attr_t tchat_a_normal(void) { return A_NORMAL; }
static inline attr_t tchat_a_bold(void) { return A_BOLD; }
static inline attr_t tchat_a_dim(void) { return A_DIM; }
static inline attr_t tchat_a_reverse(void) { return A_REVERSE; }
static inline attr_t tchat_a_underline(void) { return A_UNDERLINE; }

/// One cell: a spacing character, up to four combining characters after it, attributes and a colour pair.
static inline int tchat_put_cell(WINDOW *window, int y, int x, const wchar_t *text, attr_t attributes, short pair) {
    cchar_t cell;
    if (setcchar(&cell, text, attributes, pair, NULL) != OK) return ERR;
    return mvwadd_wch(window, y, x, &cell);
}

#endif
