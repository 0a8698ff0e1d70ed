namespace hessq::eval {}
