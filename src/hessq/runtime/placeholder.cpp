namespace hessq::runtime {}
