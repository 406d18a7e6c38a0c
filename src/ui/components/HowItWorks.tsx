/** A short explanation of the defense for people using the page in class, with experiments to try. */
export function HowItWorks() {
  return (
    <section className="card explain-card" data-testid="how-it-works">
      <details>
        <summary><h2>How MCLDef works, and what to try</h2></summary>
        <p>
          A <strong>backdoored</strong> classifier behaves normally on clean images but sends any image carrying a small trigger (here a
          3×3 grid, a faint patch, a sine pattern…) to one <em>target</em> class. The defender has the model and a little clean data
          (5% of the training set), but neither the trigger nor the poisoned training images.
        </p>
        <ol>
          <li>
            <strong>Stage 1, trigger inversion</strong> (Neural Cleanse): find the smallest mask <em>m</em> and pattern <em>p</em> such
            that stamping <em>(1 − m)·x + m·p</em> onto clean images makes the model answer the target class. The loss is cross-entropy
            towards the target plus λ times the mask's size. Watch the mask shrink onto the real trigger's location.
          </li>
          <li>
            <strong>Stage 2, model-contrastive purification</strong>: copy the model and fine-tune the copy so that the features of a
            stamped image <em>f(x̂)</em> move close to the <em>original</em> model's features of the clean image <em>f<sub>b</sub>(x)</em>
            (positive pair) and away from the original model's features of the stamped image <em>f<sub>b</sub>(x̂)</em> (negative pair).
            No labels are needed. In the t-SNE, the black dots (triggered images) start as one cluster of their own, the backdoor's
            shortcut, and dissolve into the clusters of their true classes as the shortcut is unlearned.
          </li>
        </ol>
        <p><strong>Experiments for a class</strong></p>
        <ul>
          <li>Tick "Also run FT first": plain fine-tuning on the same clean data keeps much of the backdoor (the paper: 12.8% ASR left on BadNets, 68% on SIG).</li>
          <li>Set the target class to "unknown": Neural Cleanse detection inverts every class and flags the one whose mask is abnormally small.</li>
          <li>Load the clean built-in model and run detection: does any class stand out when no class has a shortcut?</li>
          <li>Raise λ tenfold: what happens to the mask, and to the ASR after purification?</li>
          <li>Lower the clean data to 1%: how much clean data does the defense really need?</li>
          <li>Try SIG, whose trigger is a faint stripe pattern over the whole image: can a small mask express it? (The paper: MCLDef still removes it, at a cost of 11 points of BA.)</li>
        </ul>
      </details>
    </section>
  );
}
