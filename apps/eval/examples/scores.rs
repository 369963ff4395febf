//! Throwaway: AUROC of three scores (max softmax at T, max logit, -energy) for real digits
//! against Fashion-MNIST and letter photos.
use datagen::idx;
use datagen::preprocess::{prepare, Channels, Options, Page};
fn logits(model: &nn::Sequential, x: &[f32]) -> Vec<f32> {
    let t = tensor::Tensor::from_vec(vec![1, 1, 28, 28], x.to_vec()).unwrap();
    model.infer(&t).unwrap().data().to_vec()
}
fn scores(l: &[f32], t: f32) -> [f32; 3] {
    let m = l.iter().copied().fold(f32::MIN, f32::max);
    let s: f32 = l.iter().map(|v| ((v - m) / t).exp()).sum();
    let se: f32 = l.iter().map(|v| (v - m).exp()).sum();
    [1.0 / s, m, m + se.ln()]
}
fn auroc(d: &[f32], o: &[f32]) -> f64 {
    let mut w = 0.0;
    for &a in d {
        for &b in o {
            w += if a > b {
                1.0
            } else if a == b {
                0.5
            } else {
                0.0
            };
        }
    }
    w / (d.len() * o.len()) as f64
}
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let saved = nn::SavedModel::from_json(&std::fs::read_to_string(&args[0]).unwrap()).unwrap();
    let model = saved.build().unwrap();
    let t = vision::temperature_of(&saved.meta);
    let set = |dir: &str, n: usize| -> Vec<[f32; 3]> {
        let data = idx::load_split(std::path::Path::new(dir), idx::Split::Test)
            .unwrap()
            .truncated(n);
        (0..data.len())
            .map(|i| {
                let g = data.image_f32(i);
                let p = prepare(
                    &Page::new(28, 28, Channels::Gray, &g).unwrap(),
                    &Options::default(),
                );
                scores(&logits(&model, &p.pixels), t)
            })
            .collect()
    };
    let d = set("../shared/data/real-digits-dev", 1000);
    let f = set("/usr/share/datasets/fashion-mnist", 2000);
    let letters: Vec<[f32; 3]> = std::fs::read_dir(&args[1])
        .unwrap()
        .map(|e| {
            let pic = vision::read(e.unwrap().path().to_str().unwrap()).unwrap();
            let p = prepare(&pic.page().unwrap(), &Options::default());
            scores(&logits(&model, &p.pixels), t)
        })
        .collect();
    for (k, name) in ["max softmax", "max logit", "-energy"].iter().enumerate() {
        let col = |v: &[[f32; 3]]| v.iter().map(|s| s[k]).collect::<Vec<f32>>();
        let (dd, ff, ll) = (col(&d), col(&f), col(&letters));
        let mut sorted = dd.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        let thr = sorted[969];
        let fl = |v: &[f32]| v.iter().filter(|&&x| x < thr).count() as f64 / v.len() as f64;
        println!("{name}: AUROC fashion {:.4} letters {:.4}; at 3% digits flagged: fashion flagged {:.1}%, letters {:.1}%", auroc(&dd, &ff), auroc(&dd, &ll), 100.0*fl(&ff), 100.0*fl(&ll));
    }
}
