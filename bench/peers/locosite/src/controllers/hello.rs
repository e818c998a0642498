//! Added to the generated app by nuages-bench: `/hello/{name}/` rendered
//! from `assets/views/hello/hello.html` (the harness writes Nuages' template
//! there), written as the generated `page` controller is. Loco drops the
//! trailing slash: the route serves `/hello/{name}`.
use loco_rs::prelude::*;

#[debug_handler]
async fn hello(
    ViewEngine(v): ViewEngine<TeraView>,
    Path(name): Path<String>,
) -> Result<Response> {
    format::render().view(&v, "hello/hello.html", data!({ "name": name }))
}

pub fn routes() -> Routes {
    Routes::new().prefix("hello").add("/{name}/", get(hello))
}
