using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Subscriptions.Api.Tests.Embed;

/// <summary>"Did you mean …?" in a real browser: the embed script offers the corrected address, one click signs it up.</summary>
public sealed partial class BrowserTests
{
    [Fact]
    public async Task With_javascript_a_typo_in_the_domain_is_suggested_and_one_click_signs_up_the_corrected_address()
    {
        var page = await SignUpOnNewsSite("ann@gmial.com", javaScript: true);

        var suggestion = page.Locator("[data-subscriptions-suggestion]");
        await Expect(suggestion).ToHaveTextAsync("Did you mean ann@gmail.com?");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "suggest-1-did-you-mean.png"), FullPage = true });
        await suggestion.GetByRole(AriaRole.Button, new() { Name = "ann@gmail.com" }).ClickAsync();

        await Expect(suggestion).ToHaveCountAsync(0);
        await Expect(page.Locator("[data-subscriptions-message]")).ToContainTextAsync("Check your inbox");
        await Expect(page.GetByLabel("Email")).ToHaveValueAsync(""); // accepted without a suggestion: the form is reset
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "suggest-2-corrected.png"), FullPage = true });
        Assert.Single(await Fixture.Mail.WaitForMailToAsync("ann@gmail.com"));
    }

    [Theory]
    [InlineData("de")]
    [InlineData("es")]
    public async Task The_suggestion_speaks_the_readers_language(string lang)
    {
        var page = await OnNewsSite(lang, javaScript: true);
        await page.GetByLabel(SiteWords[lang].Email).FillAsync("ann@hotmial.com");
        await page.GetByLabel(SiteWords[lang].Consent).CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = SiteWords[lang].Button }).ClickAsync();

        await Expect(page.Locator("[data-subscriptions-suggestion]")).ToHaveTextAsync(Text(lang, "DidYouMean", "ann@hotmail.com"));
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, $"suggest-{lang}-did-you-mean.png"), FullPage = true });
    }

    [Fact]
    public async Task Without_javascript_a_typo_in_the_domain_gets_a_page_offering_both_addresses()
    {
        var page = await SignUpOnNewsSite("ann@gmial.com", javaScript: false);

        await Expect(page.GetByRole(AriaRole.Heading)).ToHaveTextAsync("Is your address right?");
        await Expect(page.GetByText("You entered ann@gmial.com.")).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "No, ann@gmial.com is right" })).ToBeVisibleAsync();
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "suggest-3-no-javascript-page.png"), FullPage = true });
        await page.GetByRole(AriaRole.Button, new() { Name = "Use ann@gmail.com" }).ClickAsync();

        await Expect(page.GetByRole(AriaRole.Heading)).ToHaveTextAsync("Check your inbox");
        Assert.Single(await Fixture.Mail.WaitForMailToAsync("ann@gmail.com"));
        Assert.Equal(NewsSite + "/", await Scalar<string>("""
            SELECT sub.consent_source FROM subscriptions sub JOIN subscribers s ON s.id = sub.subscriber_id WHERE s.email = 'ann@gmail.com'
            """));
    }

    [Fact]
    public async Task Without_javascript_the_page_speaks_the_readers_language()
    {
        var page = await OnNewsSite("de", javaScript: false);
        await SubmitOnNewsSite(page, "de", "ann@outlok.com");

        await Expect(page.GetByRole(AriaRole.Heading)).ToHaveTextAsync(Text("de", "CheckAddressTitle"));
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = Text("de", "UseSuggestion", "ann@outlook.com") })).ToBeVisibleAsync();
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "suggest-de-no-javascript-page.png"), FullPage = true });
    }

    [Fact]
    public async Task The_hosted_form_framed_on_the_lists_site_suggests_and_corrects_too()
    {
        var page = await _browser.NewPageAsync();
        await page.GotoAsync(NewsSite + "/framed");
        var frame = page.FrameLocator("iframe");

        await frame.GetByLabel("Email address").FillAsync("ann@hotmial.com");
        await frame.GetByLabel("By submitting this form, I agree to the terms.").CheckAsync();
        await frame.GetByRole(AriaRole.Button, new() { Name = "Sign up" }).ClickAsync();
        var suggestion = frame.Locator("[data-subscriptions-suggestion]");
        await Expect(suggestion).ToHaveTextAsync("Did you mean ann@hotmail.com?");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "suggest-4-framed-form.png"), FullPage = true });
        await suggestion.GetByRole(AriaRole.Button, new() { Name = "ann@hotmail.com" }).ClickAsync();

        await Expect(suggestion).ToHaveCountAsync(0);
        Assert.Single(await Fixture.Mail.WaitForMailToAsync("ann@hotmail.com"));
    }
}
