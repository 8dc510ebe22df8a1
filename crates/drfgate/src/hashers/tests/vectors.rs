//! Values made by Django verify with their password and only with it: the spec's vectors
//! and fresh ones made by real Django 5.2.

use super::{all_hashers, assert_verifies};
use crate::hashers::{Hasher, PasswordHashers};

// ---------------------------------------------------------------------------------------------
// Spec §5.5 vectors ([MG]: pw "correct horse battery staple", salt "vectorsalt0123456789ab")
// ---------------------------------------------------------------------------------------------

pub(super) const SPEC_PASSWORD: &str = "correct horse battery staple";

// One test per costly vector, so they run in parallel. Debug-build times for one check, measured
// on the 2-core dev machine: 260k PBKDF2 ~3.6 s, 600k ~8 s, PBKDF2-SHA1 1M ~7.5 s, Argon2 ~4 s,
// bcrypt 12 ~1.3 s, scrypt p=1 ~2.7 s; over 10 s (so ignored): PBKDF2 1M ~14 s, 1.2M ~16 s,
// scrypt p=5 ~13.5 s.

fn assert_spec_vector(encoded: &str) {
    assert_verifies(&all_hashers(), SPEC_PASSWORD, encoded);
}

#[test]
fn spec_pbkdf2_sha256_260000() {
    assert_spec_vector(
        "pbkdf2_sha256$260000$vectorsalt0123456789ab$A7ZoOg5BlJXgVnN5ULbZc/Zhcu3urD+r8k8V6GVKbwI=",
    );
}

#[test]
fn spec_pbkdf2_sha256_600000() {
    assert_spec_vector(
        "pbkdf2_sha256$600000$vectorsalt0123456789ab$LJRSigibYWY202q2x+W0eUsmMJ0/8hI6Zb5OHZL+jr8=",
    );
}

#[test]
#[ignore = "over 10 s per check in a debug build"]
fn spec_pbkdf2_sha256_1000000() {
    assert_spec_vector(
        "pbkdf2_sha256$1000000$vectorsalt0123456789ab$TnFLbqsJJ1veTVCQVc5zgmEIPUUzN7RCqWaDPD9Iznw=",
    );
}

#[test]
#[ignore = "over 10 s per check in a debug build"]
fn spec_pbkdf2_sha256_1200000() {
    assert_spec_vector(
        "pbkdf2_sha256$1200000$vectorsalt0123456789ab$kIjGhQNPf70IIdRHaVavNPtSsU0bs6qOC7VjR2Fzmuc=",
    );
}

#[test]
fn spec_pbkdf2_sha1_1000000() {
    assert_spec_vector("pbkdf2_sha1$1000000$vectorsalt0123456789ab$hkfqExqcQgf3LJ8DRu7VmvsNDx4=");
}

#[test]
fn spec_argon2id() {
    assert_spec_vector("argon2$argon2id$v=19$m=102400,t=2,p=8$dmVjdG9yc2FsdDAxMjM0NTY3ODlhYg$1nL1EHJaiMO503YJ3fGWHLz8SeFabyzDkDhvnIk33ZU");
}

#[test]
fn spec_bcrypt_sha256_and_bcrypt() {
    // Pre-hash c4bbcb1f…9a8a is the lowercase hex SHA-256 of the password.
    assert_spec_vector(
        "bcrypt_sha256$$2b$12$abcdefghijklmnopqrstuuuNrZ4CeoNrvGcIepBB1WStSdG4Wu4DG",
    );
    assert_spec_vector("bcrypt$$2b$12$abcdefghijklmnopqrstuu0sDWleciW5uGBGYwxpcgAsh9WK4bWNy");
}

#[test]
#[ignore = "over 10 s per check in a debug build"]
fn spec_scrypt_p5() {
    assert_spec_vector("scrypt$16384$vectorsalt0123456789ab$8$5$u6rXWHDhxSrPqX+WLuJz4x/dOU5WI3xDyR5em11Hwj0a1i/AUm3Nn7exrOMNCQ53b2jLb1XsYq90kYLXSK0KAw==");
}

#[test]
fn spec_scrypt_p1() {
    assert_spec_vector("scrypt$16384$vectorsalt0123456789ab$8$1$hlpbH88gAwNW4tWHhpL6M87D9PwzRuQTFAEGXN5o1SWII62UCSSte6vztZiwx6ViLgRg3HYTowjyP0610rtuHQ==");
}

#[test]
fn spec_md5() {
    assert_spec_vector("md5$vectorsalt0123456789ab$499175ba542f6f2b69af2f33f92ce274");
}

/// Formats Django 5.2 dropped: they never verify unless a custom hasher is configured.
const SPEC_LEGACY_VECTORS: &[&str] = &[
    "sha1$vectorsalt0123456789ab$bc29b2d373806945e3932424643a05e25261c3e1",
    "9cc2ae8a1ba7a93da39b46fc1019c481",
    "md5$$9cc2ae8a1ba7a93da39b46fc1019c481",
    "sha1$$abf7aad6438836dbe526aa231abde2d0eef74d42",
];

#[test]
fn legacy_formats_removed_in_django_5_never_verify() {
    for encoded in SPEC_LEGACY_VECTORS {
        assert!(
            !all_hashers().check_password(SPEC_PASSWORD, encoded),
            "{encoded}"
        );
    }
}

#[test]
fn algorithms_outside_the_configured_list_never_verify() {
    let md5 = "md5$vectorsalt0123456789ab$499175ba542f6f2b69af2f33f92ce274";
    assert!(!PasswordHashers::django_default().check_password(SPEC_PASSWORD, md5));
    let only_scrypt = PasswordHashers::new(vec![Hasher::Scrypt]);
    assert!(!only_scrypt.check_password(SPEC_PASSWORD, md5));
}

// ---------------------------------------------------------------------------------------------
// Fresh vectors made by real Django 5.2.19 (argon2-cffi 25.1.0, bcrypt 5.0.0, Python 3.11) with
// `make_password(pw, hasher=...)`; the small costs come from subclasses of Django's hashers that
// only lower `iterations` / `rounds` / `time_cost` etc. Django's check_password returned True for
// each with the password shown and False with an "x" appended.
// ---------------------------------------------------------------------------------------------

pub(super) const DJANGO_SMALL_COST: &[(&str, &str)] = &[
    ("pässwörd", "pbkdf2_sha256$1000$Me1AU3PaSVSL941XjULMxv$o1e73zWcTUYSyWF9bPNUym3TdMEafxwMqOmMOIkkjMg="),
    ("pässwörd", "pbkdf2_sha1$1000$FvR0N4aOa1wmeJvq14pdz5$23I9KriK4JAQJ4lwI2LtefrBFeo="),
    ("pässwörd", "argon2$argon2id$v=19$m=64,t=1,p=2$QU5HRXh2bEZleTVXUmlOM0QxeVYxeQ$HNQkm+jFz4P5IeUXS8Xksa+6yp91ejAPQYgpYdX4/Rk"),
    ("pässwörd", "bcrypt_sha256$$2b$04$mFnvodj.EyVSL7RB5kJQGuoO6Wzfz65ysD8ctruQq3iUkNhbWehkO"),
    ("pässwörd", "bcrypt$$2b$04$DXVegfyGXNZIdkopa0xaPOhHu9UV067GrgUvK4k1zw28P9U2u9/6a"),
    ("pässwörd", "scrypt$256$turAANkTK2eCS2Vl7ylQjO$8$2$e2T9epIXWQF7ohDOiqCnilN+GzY+T0h+l2jkHZYMS+xxeMfT1DrKbhsErgZjQJ6lK1ScqjVMTC7hmvwinJe1MQ=="),
    ("pässwörd", "md5$YTcAlDbH32S3tzueSKBZ3s$43131b0ca87f9bfd03c9d851c6c3ca69"),
    ("pa:ss", "pbkdf2_sha256$1000$dthOFLNUiItSb9cwUQ8AxV$1zPY6B+EQJIUdyloSiF6n9I8UvZdFvNIvqcxTFAWus4="),
    ("pa:ss", "pbkdf2_sha1$1000$P6U4kV6nH7bOnM2fji9nwq$lHGmjT+Wn2W78g0N2BbI3/Cd9to="),
    ("pa:ss", "argon2$argon2id$v=19$m=64,t=1,p=2$Z2dEWTJzbUxCTklQSGFmbHVGMmNaTg$TPIQkCz7KX+L5y5foo2eFqH9/zPPjYJZtPZO15vJFM0"),
    ("pa:ss", "bcrypt_sha256$$2b$04$nV8wEVi3N77YnHD1.NoUyONcpEnMuRm84m.oG4I0qkxRGi8MPaBOu"),
    ("pa:ss", "bcrypt$$2b$04$f65JCD3OJ8HiGi4OjE4feOlu5GKN67eFZD4OQvGl2jKXPydJOhL.O"),
    ("pa:ss", "scrypt$256$WDl4AVfOfWLmKTocItPSiu$8$2$+jGRY+2DGh8bguMd4OcFGdYevjb2fKg5X6CNBYxLEThtIkO+0b+tB03MQBPx0txk9jjoR+eUgFA5X/YztfQ6xA=="),
    ("pa:ss", "md5$32nJqBNJdv3SZBsfhWDy9b$c9a6fe35eb1c1a6e85a6aa75f5992adb"),
    ("", "pbkdf2_sha256$1000$qwmJHgiHFuz6Lki95nX3w3$gVQ6cKeB+UxlVqv8un6T+D9I/zu7RjimstdCZY2G4do="),
    ("", "pbkdf2_sha1$1000$YpnOyyE2ExCJBVktfjot2N$3BqNjMWtDzGZboZNfEOlUCck+Q4="),
    ("", "argon2$argon2id$v=19$m=64,t=1,p=2$bEgwNGM4djAzdkE4YzVZR3FkZFNleA$Yoc7WuVh9xw/O13whb2xUgH9xZ2wChHHNyM6GXK9QAI"),
    ("", "bcrypt_sha256$$2b$04$S.gxrUVhZUGid0h7nbKDBeYzg1f63ELqn9FKDm6YmbSwWeB7QvYYi"),
    ("", "bcrypt$$2b$04$fJeH4EcAgXvtNj5hG.z6uunJ9kUIPd5BmELVb/yGVqTWG5Elm/ZXW"),
    ("", "scrypt$256$NTuG7drN2fO3pec67N8WHz$8$2$l+dHiF4xfnVOQhkC7dz8ShuSYAAOsZEe0O+YHH66+ekcprPH41tbY94C8mDmNEASM8gJ7YGIBzQuCshT7YpytQ=="),
    ("", "md5$6DkZGeI6R5q9Duf5YQkfrw$d1dc78343ce535166809ae82c501eea7"),
    ("🔑 ключ $ pw", "pbkdf2_sha256$1000$D8WdsFDNsN7j9BzS6uYRMW$qf1lJZE7wE66sD94tOcapMG7lllfSA0AdTX20MeGdbU="),
    ("🔑 ключ $ pw", "pbkdf2_sha1$1000$WREOnfyCmdqHZZ3v46TPnc$BC8uHTqbuQ3Ugs/bDbBuPehavG4="),
    ("🔑 ключ $ pw", "argon2$argon2id$v=19$m=64,t=1,p=2$RmcwOFRaZVlPUXh0U1FOQzJPRXdYUg$/J+4Vz2onmSNxpdBjdhge2bcOMCstiwFy4Q0KONQJLo"),
    ("🔑 ключ $ pw", "bcrypt_sha256$$2b$04$S/kJv1RzDtUuzRAn8qSIZuqFudjCMWLKZvv.wuqGfSTCQ5gVCAAqe"),
    ("🔑 ключ $ pw", "bcrypt$$2b$04$ahG8kJVvZAJ.wBARl8a4.eo3lwMH29ovlaFBPigUmWAKCXyn/zDa6"),
    ("🔑 ключ $ pw", "scrypt$256$cfcKHj3ZrFTxXSnlYMLR8K$8$2$/QDZ+rVNWcPj2lSqE5Y50Atnj+yZx+fO6JuRkvFkIEZ7ABlpDyz8cPCqOoMRZyRkKnpcqiziYwFY18+gtQCqRw=="),
    ("🔑 ключ $ pw", "md5$MydH58MZLox2xrblxCdNL6$9c42d62a57149c171d58b2b5daaba1a2"),
    // The other Argon2 variants (argon2-cffi's hash_secret with Django's "argon2" prefix added).
    ("pa:ss", "argon2$argon2i$v=19$m=256,t=2,p=1$YVVadUJwS2ZXa3dBMU9BejdNQmZMUw$1unBqstXDMN7oBxu2cU5jkZR2WiENdSCU24941rCNSY"),
    ("pa:ss", "argon2$argon2d$v=19$m=256,t=2,p=1$TEtmNm1IMUdnc3RJWWc3VzVUakN2VQ$7OrzxPiVXfiLD7ZlFOGCgJM3MREwz3jYgrf/udkooEU"),
    // Argon2 version 16, with and without the optional "v=" field.
    ("pässwörd", "argon2$argon2id$v=16$m=32,t=1,p=1$VXEwc1cxdjE2c2FsdEFiQ2RFZkdoSQ$UxQrriGd8eRRmeXiW8aOVTMxx2LK8pPEZZ+UlNLEi+s"),
    ("pässwörd", "argon2$argon2id$m=32,t=1,p=1$VXEwc1cxdjE2c2FsdEFiQ2RFZkdoSQ$UxQrriGd8eRRmeXiW8aOVTMxx2LK8pPEZZ+UlNLEi+s"),
    // 100 UTF-8 bytes: bcrypt_sha256 has no length limit.
    ("ääääääääääääääääääääääääääääääääääääääääääääääääää", "bcrypt_sha256$$2b$04$xvBN2s5GiKz5S26sN/FNIOKbYbp3Rs3TyY4fUHgbt1uT.zP28GVzC"),
];

/// Plain bcrypt of exactly 72 UTF-8 bytes (36 × "ö"); made by Django 5.2 at cost 4.
pub(super) const BCRYPT_72_BYTES: (&str, &str) = (
    "öööööööööööööööööööööööööööööööööööö",
    "bcrypt$$2b$04$rY.ceF7Wz7y3BzOIpFIr5u6R8xHHP4lMWQrBoDKS80z0mBLYpL41C",
);

/// Made by Django 5.2 with its default costs (make_password(pw, hasher=<algorithm>)).
const DJANGO_DEFAULT_COST_CHEAP: &[(&str, &str)] = &[
    (
        "pässwörd",
        "bcrypt_sha256$$2b$12$lHpVxC6EPWERL1EcFzrlkO31ZBrWATXjH7fy69sGPbStAJmtEhM26",
    ),
    (
        "pässwörd",
        "bcrypt$$2b$12$LlZyYjds7ses509ylGziieTH1FXg0gK0UI6uQxc.gGcekXUeyAUlu",
    ),
    (
        "pässwörd",
        "md5$1NyLGh3f9dfSDSjd6XpcBY$f50269fc40d88b6cafaa20b30e880cd2",
    ),
];

/// Same parameters as spec vectors already checked (or ignored for time) above.
const DJANGO_DEFAULT_COST_SLOW: &[(&str, &str)] = &[
    ("pässwörd", "scrypt$16384$YgRmmVzfxkUMYSDASJPDz4$8$5$D+H6rA3sSxVltVPEEfTp24SxhbN5spLekr5VHURzHPoBxzpZQdmTOwcYaj1NzkE68MRokQcvLaXYIbHaWmgqFQ=="),
    ("pässwörd", "pbkdf2_sha256$1000000$6ka1RpN6GpOfVItqPk9XxI$kffNV/UWlVi33tqZytXpqr/T22O9I8wP0kZDjh4fGlw="),
    ("pässwörd", "pbkdf2_sha1$1000000$7d4YJa96DSg6OIvPmmqbgZ$lz3S6Md6aR3Gwz4gzytAVcagx+A="),
    ("pässwörd", "argon2$argon2id$v=19$m=102400,t=2,p=8$UFZ6SU9FNzcyUmI4akVUb1JyOXpoRw$qhFGHBjNxfZSM7hgWFo5GruL5PNxDQITtKp6NZXd1Ts"),
];

#[test]
fn django_made_vectors_verify() {
    let hashers = all_hashers();
    for (password, encoded) in DJANGO_SMALL_COST {
        assert_verifies(&hashers, password, encoded);
    }
    for (password, encoded) in DJANGO_DEFAULT_COST_CHEAP {
        assert_verifies(&hashers, password, encoded);
    }
}

#[test]
#[ignore = "slow in debug builds and redundant with the spec vectors' parameters"]
fn django_made_default_cost_vectors_verify() {
    for (password, encoded) in DJANGO_DEFAULT_COST_SLOW {
        assert_verifies(&all_hashers(), password, encoded);
    }
}

#[test]
fn unusable_and_empty_values_never_verify() {
    let hashers = all_hashers();
    let (password, encoded) = DJANGO_SMALL_COST[0];
    assert!(!hashers.check_password(password, &format!("!{encoded}")));
    assert!(!hashers.check_password(password, "!"));
    assert!(!hashers.check_password(password, "!AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcd"));
    assert!(!hashers.check_password("", ""));
    assert!(!hashers.check_password(password, ""));
}
