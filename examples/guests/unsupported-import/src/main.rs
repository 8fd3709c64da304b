//! `unsupported-import`: a command that imports `acme:missing/thing`, which no host provides.
//!
//! No args. Loading it must fail before it runs, with an error naming the missing import; if a
//! host ever did run it, it would call `poke` and print the answer.

mod bindings {
    // wit-bindgen's generated import glue is unsafe ABI code; this crate writes none itself.
    #![allow(unsafe_code)]
    wit_bindgen::generate!({ path: "wit", world: "missing" });
}

fn main() {
    let answer = bindings::acme::missing::thing::poke(1);
    println!("poked: {answer}");
}
