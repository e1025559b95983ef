//! The `.env` parser: syntax, quotes, interpolation, Laravel's lines and
//! errors.

use super::*;

#[test]
fn dotenv_basic_syntax() {
    let text = "\u{feff}# comment\n\nAPP_NAME=Laravel\r\nexport REVERB_APP_ID=123\n  \
                SPACED = value with spaces  \nINLINE=abc #comment\nHASH=abc#def\n\
                ONLY_COMMENT= #nothing\nEMPTY=\nBARE\nDOTTED.NAME=x\n";
    assert_eq!(
        dotenv(text),
        vars(&[
            ("APP_NAME", "Laravel"),
            ("REVERB_APP_ID", "123"),
            ("SPACED", "value with spaces"),
            ("INLINE", "abc"),
            ("HASH", "abc#def"),
            ("ONLY_COMMENT", ""),
            ("EMPTY", ""),
            ("DOTTED.NAME", "x"),
        ])
    );
}

#[test]
fn dotenv_quotes() {
    let text = "D=\"a b # not a comment\" # comment\nS='single ${X} \\n #'\n\
                E=\"line\\nnext\\t\\\"q\\\" \\\\ \\$ \\z\"\nM=\"multi\nline\"\nAFTER=1\n\
                EMPTY_D=\"\"\nEMPTY_S=''\n";
    assert_eq!(
        dotenv(text),
        vars(&[
            ("D", "a b # not a comment"),
            ("S", "single ${X} \\n #"),
            ("E", "line\nnext\t\"q\" \\ $ \\z"),
            ("M", "multi\nline"),
            ("AFTER", "1"),
            ("EMPTY_D", ""),
            ("EMPTY_S", ""),
        ])
    );
}

#[test]
fn dotenv_interpolation() {
    let outer: HashMap<String, String> = vars(&[("FROM_ENV", "env")]).into_iter().collect();
    let text = "HOST=example.com\nURL=\"https://${HOST}/x\"\nBARE=${HOST}:80\n\
                ENV=${FROM_ENV}\nMISSING=a${NOPE}b\nESCAPED=\"\\${HOST}\"\nSINGLE='${HOST}'\n\
                FROM_ENV=file\nUNCLOSED=${HOST\n";
    let parsed = parse_dotenv(text, &outer).expect("parses");
    let get = |name: &str| {
        parsed
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("URL"), Some("https://example.com/x"));
    assert_eq!(get("BARE"), Some("example.com:80"));
    assert_eq!(get("ENV"), Some("env"));
    assert_eq!(get("MISSING"), Some("ab"));
    assert_eq!(get("ESCAPED"), Some("${HOST}"));
    assert_eq!(get("SINGLE"), Some("${HOST}"));
    assert_eq!(get("UNCLOSED"), Some("${HOST"));
}

/// The cases that decided against the `dotenvy` crate (0.15.7), with what
/// it gave: a bare `$` is kept, as phpdotenv keeps it (dotenvy expands
/// `$def` to "" in the unquoted value and rejects the quoted one), `\t` is a
/// tab in double quotes (dotenvy rejects the line), and `${NAME}` reads the
/// environment snapshot handed to the loader (dotenvy reads the live process
/// environment and gave "").
#[test]
fn dotenv_cases_that_decided_against_dotenvy() {
    let outer: HashMap<String, String> = vars(&[("FROM_ENV", "env")]).into_iter().collect();
    let text = "REVERB_APP_SECRET=abc$def\nQUOTED_SECRET=\"abc$def\"\nBARE_NAME=$HOST\n\
                TAB=\"a\\tb\"\nENV=${FROM_ENV}\n";
    assert_eq!(
        parse_dotenv(text, &outer).expect("parses"),
        vars(&[
            ("REVERB_APP_SECRET", "abc$def"),
            ("QUOTED_SECRET", "abc$def"),
            ("BARE_NAME", "$HOST"),
            ("TAB", "a\tb"),
            ("ENV", "env"),
        ])
    );
}

/// Everyday Laravel lines, which both parsers read alike.
#[test]
fn dotenv_laravel_lines() {
    let text = "\u{feff}APP_NAME=\"My App\"\r\nREVERB_APP_SECRET=abc#def\r\nKEY=\r\n\
                NULL=null\r\nLITERAL='${NOT_EXPANDED}'\r\nNEWLINE=\"a\\nb\"\r\n\
                DOUBLE=\"v\" # comment\r\nSINGLE='v' # comment\r\nexport EXPORTED=v\r\n";
    assert_eq!(
        dotenv(text),
        vars(&[
            ("APP_NAME", "My App"),
            ("REVERB_APP_SECRET", "abc#def"),
            ("KEY", ""),
            ("NULL", "null"),
            ("LITERAL", "${NOT_EXPANDED}"),
            ("NEWLINE", "a\nb"),
            ("DOUBLE", "v"),
            ("SINGLE", "v"),
            ("EXPORTED", "v"),
        ])
    );
}

#[test]
fn dotenv_errors_name_the_line() {
    for (text, line) in [
        ("A=1\nB=\"open\n\nC=3\n", 2),
        ("A=1\n=value\n", 2),
        ("A=1\nB C=2\n", 2),
        ("A='x' junk\n", 1),
        ("1ABC=x\n", 1),
    ] {
        let message = parse_dotenv(text, &HashMap::new()).expect_err(text);
        assert!(
            message.starts_with(&format!("line {line}: ")),
            "{text:?}: {message}"
        );
    }
    let text = err(None, Some("GOOD=1\nBAD LINE\n"), &[]);
    assert!(
        text.starts_with("env file ") && text.contains(": line 2: "),
        "{text}"
    );
}
