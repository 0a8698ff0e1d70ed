namespace hessq::io {}
